"""Dynamic monitoring (预算执行动态监控): warning rules, their evaluation and the warnings ledger."""
