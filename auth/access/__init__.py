"""Who may touch which survivor: the access rules, caseloads, break-glass, and the survivor's
own access log of who touched their record."""
