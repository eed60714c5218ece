// The DifferentialPrivacy module; see DESIGN.md §3.
