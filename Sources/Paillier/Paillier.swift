// The Paillier module; see DESIGN.md §3.
