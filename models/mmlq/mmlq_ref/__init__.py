"""MMLQ reference implementation (PyTorch): one module per part, the public names re-exported here.

  config        MMLQConfig, ATTRIBUTE_LABELS, N_BINS
  word_vocab    WordVocabTokenizer (the default model's ``word-vocab`` tokenizer)
  wordpiece     WordPieceTokenizer (BERT, the paper-size model's tokenizer.json)
  pixel_stats   pixel_statistics, PIXEL_STATS_DIM
  image_tokens  FrozenImageEncoder (backbone taps -> token groups)
  glove         FrozenGloVe (8-bit GloVe table)
  encoders      ClipVisionEncoder, BertEncoder (paper-size, Hugging Face layout)
  mobilenet_tfjs  the nsfwjs MobileNetV2 backbone read from its tfjs files
  blocks        Attention, MMIB, MMLQCore
  model         MMLQHead, MMLQModel (default), MMLQTokenModel (paper size)
  loss          emd_loss, mean_score, BIN_VALUES
  fp16          round_fp16_
  folder        servable-folder helpers (preprocess, sha256, manifest)
"""
from .blocks import MMIB, Attention, MMLQCore
from .config import ATTRIBUTE_LABELS, N_BINS, MMLQConfig
from .fp16 import round_fp16_
from .glove import FrozenGloVe
from .image_tokens import FrozenImageEncoder
from .loss import BIN_VALUES, emd_loss, mean_score
from .model import MMLQHead, MMLQModel, MMLQTokenModel
from .pixel_stats import PIXEL_STATS_DIM, pixel_statistics
from .word_vocab import WordVocabTokenizer
from .wordpiece import WordPieceTokenizer

__all__ = [
    "ATTRIBUTE_LABELS", "Attention", "BIN_VALUES", "FrozenGloVe", "FrozenImageEncoder", "MMIB", "MMLQConfig",
    "MMLQCore", "MMLQHead", "MMLQModel", "MMLQTokenModel", "N_BINS", "PIXEL_STATS_DIM", "WordPieceTokenizer",
    "WordVocabTokenizer", "emd_loss", "mean_score", "pixel_statistics", "round_fp16_",
]
