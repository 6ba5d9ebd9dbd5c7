"""Planning and checking a design: power by simulation, the parametric bootstrap,
parameter recovery."""
