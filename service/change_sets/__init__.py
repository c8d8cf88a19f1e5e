"""Change sets: a policy change (new edition, repeal) turned into reviewed, atomically applied revisions."""
