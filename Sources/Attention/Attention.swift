// The Attention module; see DESIGN.md §3.
