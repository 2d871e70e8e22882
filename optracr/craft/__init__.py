"""craft: labelled vector spaces, operators and transformer blocks, the library of constructions, ``lower`` and
the passes.

``lower_each(program_graph)`` turns every computed s-op of a ``frontend.ProgramGraph`` into one craft block (an
MLP, an attention head, or selector width's head + MLP) on named residual directions; the passes
(``FoldPass``, ``FusePass``; ``pass_for(options)``) transform that block graph, and ``lower(program_graph,
fold=, fuse=, fused_width_cap=)`` runs both. Blocks follow the
residual conventions of docs/artefacts.md (``one``; ``tokens:v`` with ``tokens:BOS``/``tokens:PAD``;
``indices:i``; ``L:v`` per value of a categorical s-op ``L``, the single ``L`` for a numerical one). Each
block's numpy ``apply`` is its meaning on one labelled residual; ``embed`` and ``decode`` read a whole
BlockGraph's input and output, ``attention_mask`` is the one mask (BOS, PAD, causal) every forward uses, and
``input_tokens``, ``token_embedding``, ``position_embedding`` and ``decode_one_hot`` are the embedding and
decoding rule assembly reuses.

Widths of every construction, as built (N = max_seq_len; |X| = number of values of input s-op X, |Q| and |K|
of the selector's queries and keys, |V| of the aggregated s-op, |O| of the output; every MLP also reads
``one`` and ``tokens:BOS``, every head's query reads ``one`` and its key ``tokens:BOS``):

================================  =====  =============================================  =================  =============
construction                      heads  MLP hidden width                               key size           value size
================================  =====  =============================================  =================  =============
Map categorical -> categorical    0      #distinct non-None outputs (<= min(|X|, |O|))  0                  0
Map categorical -> numerical      0      [some f(x) > 0] + [some f(x) < 0]  (<= 2)      0                  0
Map numerical -> numerical,       0      [some f(x) > 0] + [some f(x) < 0]  (<= 2)      0                  0
f affine on the known inputs
Map numerical -> numerical or     0      2 #{j : g_j+1 != g_j} + [g_anchor != 0]        0                  0
categorical (discretising)               (<= 2|X| - 1)
SequenceMap categorical,          0      min over the row input R of                    0                  0
categorical output                       sum_r #distinct non-None f(r, .)  (<= |X||Y|)
SequenceMap categorical,          0      min over R of sum_r ([some f(r, .) > 0]        0                  0
numerical output                         + [some f(r, .) < 0])  (<= 2 min(|X|, |Y|))
SequenceMap(f, x, x)              0      as the Map x -> f(x, x)                        0                  0
LinearSequenceMap numerical       0      [a x + b y > 0 somewhere] + [< 0 somewhere]    0                  0
Aggregate categorical             1      0                                              min(|Q|+1, |K|+1)  min(|V|, |O|)
Aggregate numerical               1      0                                              min(|Q|+1, |K|+1)  1
SelectorWidth categorical         1      2N + 1                                         min(|Q|+1, |K|+1)  1
SelectorWidth numerical           1      2N  (1 when N = 1: affine)                     min(|Q|+1, |K|+1)  1
Aggregate / SelectorWidth of a    1      as above                                       min(sum |Q_i| + 1, as above
conjunction of Selects i over                                                           sum |K_i| + 1)
different s-ops (additive scores)
Fused region (craft.fusion) of    0      min over the column input C of the sum over    0                  0
categorical X_1 .. X_k (k >= 1)          rows r (a value of every other input) of
                                         min(T_r, P_r + S_r): T_r = #distinct non-None
                                         output tuples f(r, .), P_r = #distinct
                                         non-None tuples of the categorical outputs,
                                         S_r = #(numerical output, sign) occurring
                                         in row r  (<= |X_1| ... |X_k|)
Fused region, one numerical x     0      sum over combinations r of the X_i of          0                  0
(n values) and categorical               2 #{j : g_r(x_j+1) != g_r(x_j)}
X_1 .. X_k (k >= 0)                      + [g_r(x_j) != 0 for every j]
                                         (<= (2n - 1) |X_1| ... |X_k|)
Fused region, >= 2 numerical      0      as "affine combination" below; refused when    0                  0
                                         no combination resolves the inputs' errors
Affine combination (craft.affine)  0      2 #{j : g(t_j+1) != g(t_j)} + [g(t_j) != 0     0                  0
of a SequenceMap of numeric-valued       for every j], over the distinct known values
categoricals or of a fused region,       t_j of t = sum_i a_i v_i (a selector width's
outputs g(t) (chosen where narrower)     scratch counting as w, one threshold per row)
================================  =====  =============================================  =================  =============

The affine combination is searched among small rational coefficients and separating lambdas (t orders by one
input, then the next, so every combination gets its own t); its coefficients are recorded in the block and in
the model's ground truth (``SopLocation.affine_inputs`` / ``affine_coefficients``). It is used only with
folding (``lower(fold=True)``): t itself is folded, composed into the MLP's first layer.

Blocks: Map / SequenceMap -> an MLP, Aggregate -> a head, SelectorWidth -> [head, MLP]. (A disjunction or
negation over different s-ops, and numerical keys, queries or SequenceMap inputs, reach craft already
rewritten by the frontend into pairs and categorical copies: ordinary SequenceMaps and Maps.) Every
construction is exact on every input its value sets allow; the discretising MLP also on any input within a
quarter of the smallest gap between known input values whose outputs differ (values one float rounding apart
count as one). ``lower`` bounds every s-op's error (attention leak, float64 rounding) and refuses, with a
``CompileError``, a discretising MLP whose gaps that error could cross. Attention
sharpness comes from max_seq_len (``attention.sharpness``): softmax mass off the intended keys < 1e-7.
"""

from optracr.craft.inputs import check_tokens
from optracr.craft.bases import (
    BasisDirection,
    VectorInBasis,
    VectorSpaceWithBasis,
    direct_sum,
    join_vector_spaces,
    space,
    value_sort_key,
)
from optracr.craft.block_graph import BlockGraph, FusionCandidate, LoweredBlock, sublayer_parts
from optracr.craft.blocks import MLP, AttentionHead, MultiAttentionHead, SeriesWithResiduals, combine_in_parallel
from optracr.craft.conventions import INDICES, ONE, TOKENS, bos_direction, pad_direction, selector_width_scratch
from optracr.craft.folding import substitute_linear, substitution_of
from optracr.craft.fusion import FusedInput, FusedOutput, FusedUnits, fused_mlp, fused_units, fused_width
from optracr.craft.affine import formula as affine_formula
from optracr.craft.lowering import lower, lower_each
from optracr.craft.numpy_model import (
    DECODE_THRESHOLD,
    attention_mask,
    decode,
    decode_one_hot,
    embed,
    input_tokens,
    position_embedding,
    token_embedding,
)
from optracr.craft.operators import Bilinear, Linear
from optracr.craft.passes import PASSES, FoldPass, FusePass, Pass, pass_for

__all__ = [
    "AttentionHead",
    "BasisDirection",
    "Bilinear",
    "BlockGraph",
    "DECODE_THRESHOLD",
    "FoldPass",
    "FusePass",
    "FusedInput",
    "FusedOutput",
    "FusedUnits",
    "FusionCandidate",
    "INDICES",
    "Linear",
    "LoweredBlock",
    "MLP",
    "MultiAttentionHead",
    "ONE",
    "PASSES",
    "Pass",
    "SeriesWithResiduals",
    "TOKENS",
    "VectorInBasis",
    "VectorSpaceWithBasis",
    "affine_formula",
    "attention_mask",
    "bos_direction",
    "check_tokens",
    "combine_in_parallel",
    "decode",
    "decode_one_hot",
    "direct_sum",
    "embed",
    "fused_mlp",
    "fused_units",
    "fused_width",
    "input_tokens",
    "join_vector_spaces",
    "lower",
    "lower_each",
    "pad_direction",
    "pass_for",
    "position_embedding",
    "selector_width_scratch",
    "space",
    "sublayer_parts",
    "substitute_linear",
    "substitution_of",
    "token_embedding",
    "value_sort_key",
]
