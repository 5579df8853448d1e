"""Readers of paper files, one module per format.

Each reader turns a file into records in one vocabulary (see `assistant.papers.normalize_record`)
and never decides what a Paper is: `assistant.papers` detects the format, calls the reader
and builds the Papers.  A reader yields `(position, record)` pairs, where position says where
in the file the record is ("line 3", "entry 'smith2020'") and record is a dict, or a string
saying why that record cannot be read.
"""
