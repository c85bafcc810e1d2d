"""The embedded target ERP: windows declared as data, their rules, storage and rights."""
