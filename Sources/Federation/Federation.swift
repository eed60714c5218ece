// The federation runtime; see DESIGN.md §2.
