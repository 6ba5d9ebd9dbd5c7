"""The ``ipt-outcomes`` command line: a thin layer over the library."""
