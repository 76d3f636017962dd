"""Data: the paper's images, Imagenette, Imagewoof and ImageNet samples through pooch (hash-checked
registries in ``registry/``), image loading and class names (:mod:`.sources`), and pools of images
with their classes (:mod:`.pools`), and a local ImageNet where a user has one (:mod:`.imagenet`). Their names are re-exported here."""
from .sources import (DATA_ENV, SOURCES, FOLDERS, PAPER_CLASSES, IMAGENETTE_CLASSES, IMAGEWOOF_CLASSES,
                      VAL50_CLASSES, MIN_SIDE, WNID_RE, data_dir, display_path, registry, fetcher, fetch,
                      ImageNetClass, imagenet_classes, find_class, read_image, SkippedFileWarning, load_images,
                      LazyImages, ImageSet, load_image_set, paper_mean_images)
from .pools import DEFAULT_POOL, load_pool
from .imagenet import IMAGENET_ENV

__all__ = ["DATA_ENV", "SOURCES", "FOLDERS", "PAPER_CLASSES", "IMAGENETTE_CLASSES", "IMAGEWOOF_CLASSES",
           "VAL50_CLASSES", "MIN_SIDE", "WNID_RE", "data_dir", "display_path", "registry", "fetcher", "fetch",
           "ImageNetClass", "imagenet_classes", "find_class", "read_image", "SkippedFileWarning", "load_images",
           "LazyImages", "ImageSet", "load_image_set", "paper_mean_images", "DEFAULT_POOL", "load_pool",
           "IMAGENET_ENV"]
