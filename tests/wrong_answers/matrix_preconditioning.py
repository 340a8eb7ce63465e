"""Wrong answers to the matrix-preconditioning chapter's exercises."""

import math


def memory_only_the_statistics(shape):
    size = math.prod(shape)
    shampoo = sum(n * n for n in shape)                   # the roots forgotten
    soap = 2 * size + sum(n * n for n in shape if n <= 10000) if len(shape) > 1 \
        else 2 * size
    return shampoo, soap


def memory_rotates_vectors(shape):
    size = math.prod(shape)
    shampoo = sum(2 * n * n for n in shape)
    soap = 2 * size + sum(2 * n * n for n in shape if n <= 10000)  # vectors too
    return shampoo, soap


def memory_no_size_limit(shape):
    size = math.prod(shape)
    shampoo = sum(2 * n * n for n in shape)
    soap = 2 * size + sum(2 * n * n for n in shape) if len(shape) > 1 else 2 * size
    return shampoo, soap


def memory_full_matrix(shape):
    size = math.prod(shape)
    return 2 * size * size, 2 * size + 2 * size * size    # one d × d matrix


WRONG = {
    "ex-mp-memory": [(memory_only_the_statistics, "(128, 512)"),
                     (memory_rotates_vectors, "(128,)"),
                     (memory_no_size_limit, "50257"),
                     (memory_full_matrix, "(128, 512)")],
}
