"""Wrong answers to the exercises of the chapter "Stochastic gradient descent"."""


def sgd_sums(per_example_grads, theta, order, batch_size, lr):
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        theta = theta - lr * per_example_grads(theta, batch).sum(dim=0)
    return theta


def sgd_drops_last_batch(per_example_grads, theta, order, batch_size, lr):
    for start in range(0, len(order) - batch_size + 1, batch_size):
        batch = order[start:start + batch_size]
        theta = theta - lr * per_example_grads(theta, batch).mean(dim=0)
    return theta


def sgd_stale_theta(per_example_grads, theta, order, batch_size, lr):
    theta0 = theta
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        theta = theta - lr * per_example_grads(theta0, batch).mean(dim=0)
    return theta


def sgd_ignores_order(per_example_grads, theta, order, batch_size, lr):
    for start in range(0, len(order), batch_size):
        batch = list(range(start, min(start + batch_size, len(order))))
        theta = theta - lr * per_example_grads(theta, batch).mean(dim=0)
    return theta


WRONG = {
    "ex-sgd-epoch": [
        (sgd_sums, "batch_size = 4"),
        (sgd_drops_last_batch, "N = 10 examples"),
        (sgd_stale_theta, "batch_size = 1"),
        (sgd_ignores_order, "batch_size = 1"),
    ],
}
