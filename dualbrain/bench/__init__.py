"""`dualbrain bench`: every answer system on the same base model and data, measured in one run."""
