"""The residents' voice and the street's view (SPEC §9a): needs, evaluations, the notice
board and the yearly team assessment."""
