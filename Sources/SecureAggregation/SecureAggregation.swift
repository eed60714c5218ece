// The SecureAggregation module; see DESIGN.md §3.
