"""Facets: Algorithm 1 of the paper (:mod:`.algorithm`: codes, PCA + t-SNE, k-means, members, mean
images; its names are re-exported here) and the facets of one unit from a pool of images
(:mod:`.unit_facets`, the per-unit work of notebooks 02 and 05 and of an atlas).
"""
from .algorithm import (atomic_save_npy, cache_ids, layer_codes, map_position, column_path, layer_columns,
                        top_indices, choose_k, embed, Facets, find_facets, cluster, reference_facets)
__all__ = ["atomic_save_npy", "cache_ids", "layer_codes", "map_position", "column_path", "layer_columns",
           "top_indices", "choose_k", "embed", "Facets", "find_facets", "cluster", "reference_facets"]
