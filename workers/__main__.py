"""``python -m workers``: the worker (arq, riding out Redis and Postgres restarts)."""

from workers.worker import main

main()
