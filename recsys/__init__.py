"""ShopLoop recommender: implicit ALS "猜你喜欢", basket complements "搭配推荐", evaluation and a model registry.

The public API is small and flat, in the style of implicit:

- :func:`recsys.dataset.build_interaction_matrix` turns interactions into a weighted user × item matrix;
- :class:`recsys.model.ALSModel` fits and recommends by matrix index;
- :class:`recsys.model.Recommender` serves by person and product id, with business rules and reasons;
- :mod:`recsys.evaluate` compares models with baselines on a time split;
- :mod:`recsys.registry` keeps every trained artifact and decides which one is live;
- :func:`recsys.train.main` is the composition root.

Nothing heavy happens at import time: import the submodules you need.
"""
