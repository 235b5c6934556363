"""The `cicatrix` command line: one tool that plans, scores, serves and exports."""
