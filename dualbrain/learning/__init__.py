"""Learning: how a knowledge base changes. Files come in (``intake``), a change is planned as shards to train and
shards to keep (``planning``), and the planned shards are trained and published as the next version, on one
process or several (``publishing``). Training one shard is the knowledge network's recipe (``knowledge/recipe.py``).
"""
