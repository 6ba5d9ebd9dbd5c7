"""The engines: sufficient statistics at the bottom, the profiled (RE)ML criterion of
the keyword model and of any formula, nested therapists, Satterthwaite's derivatives."""
