/* Exact static memory allocation by search over canonical solutions (see canonical.py).
 *
 * The method is MiniMalloc's (Moffitt, "MiniMalloc: A Lightweight Memory Allocator for Hardware-Accelerated
 * Machine Learning", ASPLOS 2023), written anew in C for plain buffers (a live range and a size each):
 * a sweep over the buffers' endpoints cuts time into sections and the buffers into independent partitions;
 * a depth-first search places buffers in non-decreasing offset order, each at its lowest offset above the
 * buffers placed before it that it overlaps, with section inference, dominance and hatless pruning,
 * decomposition into independent parts as placements cut the schedule, and a round robin over three static
 * preorderings with a node limit that doubles each round.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { FOUND = 0, NOT_FOUND = 1, ABORTED = 2, DEADLINE = 3, NO_MEMORY = 4 };
#define NO_OFFSET (-1)
#define N_HEURISTICS 3
static const char *HEURISTICS[N_HEURISTICS] = {"WAT", "TAW", "TWA"};

typedef struct {
    int64_t offset;
    int64_t preorder;
} Order;

typedef struct {
    int64_t buffer, key[3]; /* the heuristic's three keys, each larger first */
} Preorder;

typedef struct {
    /* The problem. */
    int64_t n, capacity, alignment;
    const int64_t *lower, *upper, *size;
    /* The sweep: each buffer's sections [first, end), the buffers in each section, the overlaps. */
    int64_t n_sections;
    int64_t *first, *end;
    int64_t *section_start, *section_members;   /* CSR over sections */
    int64_t *overlap_start, *overlap_members;   /* CSR over buffers */
    /* Search state. */
    int64_t *offset, *solution, *min_offset;
    int64_t *floor, *total, *cuts;
    /* Undo stacks: (index, old value) pairs of min offsets and section floors. */
    int64_t *offset_log, offset_log_size, offset_log_capacity;
    int64_t *floor_log, floor_log_size, floor_log_capacity;
    int64_t *affected_stamp, stamp;
    int64_t *affected, n_affected;
    int64_t nodes_remaining, backtracks;
    const char *heuristic;
    struct timespec started;
    double timeout_s;
    int failed_allocation;
} Solver;

static double elapsed(const Solver *s) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - s->started.tv_sec) + 1e-9 * (double)(now.tv_nsec - s->started.tv_nsec);
}

static int push_pair(int64_t **log, int64_t *size, int64_t *capacity, int64_t index, int64_t value) {
    if (*size + 2 > *capacity) {
        int64_t grown = *capacity ? 2 * *capacity : 1024;
        int64_t *bigger = realloc(*log, sizeof(int64_t) * grown);
        if (!bigger) return -1;
        *log = bigger;
        *capacity = grown;
    }
    (*log)[(*size)++] = index;
    (*log)[(*size)++] = value;
    return 0;
}

/* Sort helpers: points by (time, right before left, buffer); orders by (offset, preorder). */
typedef struct {
    int64_t time, kind, buffer; /* kind 0: right endpoint, 1: left */
} Point;

static int compare_points(const void *a, const void *b) {
    const Point *p = a, *q = b;
    if (p->time != q->time) return p->time < q->time ? -1 : 1;
    if (p->kind != q->kind) return p->kind < q->kind ? -1 : 1;
    return (p->buffer > q->buffer) - (p->buffer < q->buffer);
}

static int compare_orders(const void *a, const void *b) {
    const Order *p = a, *q = b;
    if (p->offset != q->offset) return p->offset < q->offset ? -1 : 1;
    return (p->preorder > q->preorder) - (p->preorder < q->preorder);
}

static int compare_preorders(const void *a, const void *b) {
    const Preorder *p = a, *q = b;
    for (int k = 0; k < 3; k++)
        if (p->key[k] != q->key[k]) return p->key[k] > q->key[k] ? -1 : 1;
    return (p->buffer > q->buffer) - (p->buffer < q->buffer);
}

/* The sweep (MiniMalloc's): a section closes at each new time a live range ends; partitions are the runs of
 * buffers between moments when nothing is live. Returns the number of partitions written to part_*. */
static int sweep(Solver *s, int64_t *part_of, int64_t *n_parts_out) {
    int64_t n = s->n;
    Point *points = malloc(sizeof(Point) * 2 * n);
    int64_t *alive = malloc(sizeof(int64_t) * n), *where = malloc(sizeof(int64_t) * n);
    int64_t *counts = calloc(n + 1, sizeof(int64_t));
    int64_t overlap_capacity = 4 * n + 16, n_overlaps = 0;
    int64_t *pairs = malloc(sizeof(int64_t) * 2 * overlap_capacity);
    if (!points || !alive || !where || !counts || !pairs) goto fail;
    for (int64_t b = 0; b < n; b++) {
        points[2 * b] = (Point){s->lower[b], 1, b};
        points[2 * b + 1] = (Point){s->upper[b], 0, b};
    }
    qsort(points, 2 * n, sizeof(Point), compare_points);
    int64_t n_alive = 0, n_sections = 0, n_parts = 0, last_time = points[0].time;
    for (int64_t i = 0; i < 2 * n; i++) {
        Point p = points[i];
        if (p.kind == 0) {
            if (last_time < p.time) {
                last_time = p.time;
                n_sections++;
            }
            int64_t at = where[p.buffer];
            alive[at] = alive[--n_alive];
            where[alive[at]] = at;
            s->end[p.buffer] = n_sections;
        } else {
            if (n_alive == 0) n_parts++;
            part_of[p.buffer] = n_parts - 1;
            for (int64_t k = 0; k < n_alive; k++) {
                if (n_overlaps + 1 > overlap_capacity) {
                    overlap_capacity *= 2;
                    int64_t *bigger = realloc(pairs, sizeof(int64_t) * 2 * overlap_capacity);
                    if (!bigger) goto fail;
                    pairs = bigger;
                }
                pairs[2 * n_overlaps] = p.buffer;
                pairs[2 * n_overlaps + 1] = alive[k];
                n_overlaps++;
                counts[p.buffer]++;
                counts[alive[k]]++;
            }
            where[p.buffer] = n_alive;
            alive[n_alive++] = p.buffer;
            s->first[p.buffer] = n_sections;
        }
    }
    s->n_sections = n_sections;
    /* Overlaps as CSR. */
    s->overlap_start = malloc(sizeof(int64_t) * (n + 1));
    s->overlap_members = malloc(sizeof(int64_t) * (2 * n_overlaps + 1));
    if (!s->overlap_start || !s->overlap_members) goto fail;
    s->overlap_start[0] = 0;
    for (int64_t b = 0; b < n; b++) s->overlap_start[b + 1] = s->overlap_start[b] + counts[b];
    memset(counts, 0, sizeof(int64_t) * (n + 1));
    for (int64_t k = 0; k < n_overlaps; k++) {
        int64_t a = pairs[2 * k], b = pairs[2 * k + 1];
        s->overlap_members[s->overlap_start[a] + counts[a]++] = b;
        s->overlap_members[s->overlap_start[b] + counts[b]++] = a;
    }
    /* Buffers of each section as CSR. */
    s->section_start = calloc(n_sections + 1, sizeof(int64_t));
    int64_t spans = 0;
    for (int64_t b = 0; b < n; b++) spans += s->end[b] - s->first[b];
    s->section_members = malloc(sizeof(int64_t) * (spans + 1));
    int64_t *fill = calloc(n_sections + 1, sizeof(int64_t));
    if (!s->section_start || !s->section_members || !fill) {
        free(fill);
        goto fail;
    }
    for (int64_t b = 0; b < n; b++)
        for (int64_t k = s->first[b]; k < s->end[b]; k++) s->section_start[k + 1]++;
    for (int64_t k = 0; k < n_sections; k++) s->section_start[k + 1] += s->section_start[k];
    for (int64_t b = 0; b < n; b++)
        for (int64_t k = s->first[b]; k < s->end[b]; k++) s->section_members[s->section_start[k] + fill[k]++] = b;
    free(fill);
    *n_parts_out = n_parts;
    free(points);
    free(alive);
    free(where);
    free(counts);
    free(pairs);
    return 0;
fail:
    free(points);
    free(alive);
    free(where);
    free(counts);
    free(pairs);
    return -1;
}

static int64_t align_up(int64_t value, int64_t alignment) {
    int64_t rest = value % alignment;
    return rest ? value + alignment - rest : value;
}

static int sub_solve(Solver *s, const int64_t *members, int64_t count, int64_t lo, int64_t hi);

/* Places the partition's unplaced buffers in `orig` order; see MiniMalloc's SearchSolutions. */
static int search(Solver *s, const int64_t *members, int64_t count, int64_t lo, int64_t hi, const Preorder *preorder,
                  const Order *orig, int64_t n_orig, int64_t min_offset, int64_t min_preorder) {
    if (s->nodes_remaining <= 0) return ABORTED;
    s->nodes_remaining--;
    if ((s->nodes_remaining & 255) == 0 && elapsed(s) > s->timeout_s) return DEADLINE;
    Order *order = malloc(sizeof(Order) * (n_orig ? n_orig : 1));
    if (!order) return NO_MEMORY;
    int64_t n_order = 0;
    for (int64_t i = 0; i < n_orig; i++) {
        int64_t b = preorder[orig[i].preorder].buffer;
        if (s->offset[b] != NO_OFFSET) continue;
        order[n_order++] = (Order){s->min_offset[b], orig[i].preorder};
    }
    if (n_order == 0) {
        for (int64_t i = 0; i < count; i++) s->solution[members[i]] = s->offset[members[i]];
        free(order);
        return FOUND;
    }
    qsort(order, n_order, sizeof(Order), compare_orders);
    int64_t min_height = INT64_MAX;
    for (int64_t i = 0; i < n_order; i++) {
        int64_t top = order[i].offset + s->size[preorder[order[i].preorder].buffer];
        if (top < min_height) min_height = top;
    }
    int status = NOT_FOUND;
    for (int64_t i = 0; i < n_order; i++) {
        int64_t at = order[i].offset, rank = order[i].preorder, b = preorder[rank].buffer;
        /* Canonical: offsets never decrease, and at equal offsets the preorder decides. */
        if (at < min_offset || (at == min_offset && rank < min_preorder)) continue;
        /* Dominance: at or above another buffer's top, that buffer could have gone below first. */
        if (at >= min_height) continue;
        s->offset[b] = at;
        int64_t offset_mark = s->offset_log_size, floor_mark = s->floor_log_size;
        int hatless = 1;
        s->stamp++;
        s->n_affected = 0;
        for (int64_t k = s->overlap_start[b]; k < s->overlap_start[b + 1]; k++) {
            int64_t other = s->overlap_members[k];
            if (s->offset[other] != NO_OFFSET) continue;
            hatless = 0;
            int64_t height = align_up(at + s->size[b], s->alignment);
            if (s->min_offset[other] >= height) continue;
            if (push_pair(&s->offset_log, &s->offset_log_size, &s->offset_log_capacity, other, s->min_offset[other]))
                goto no_memory;
            s->min_offset[other] = height;
            for (int64_t sec = s->first[other]; sec < s->end[other]; sec++) {
                if (s->affected_stamp[sec] != s->stamp) {
                    s->affected_stamp[sec] = s->stamp;
                    s->affected[s->n_affected++] = sec;
                }
            }
        }
        for (int64_t sec = s->first[b]; sec < s->end[b]; sec++) {
            if (push_pair(&s->floor_log, &s->floor_log_size, &s->floor_log_capacity, sec, s->floor[sec]))
                goto no_memory;
            s->floor[sec] = at + s->size[b];
            s->total[sec] -= s->size[b];
        }
        /* No future buffer in a section sits below the lowest minimum offset of its unplaced buffers. */
        for (int64_t k = 0; k < s->n_affected; k++) {
            int64_t sec = s->affected[k], lowest = INT64_MAX;
            for (int64_t m = s->section_start[sec]; m < s->section_start[sec + 1]; m++) {
                int64_t other = s->section_members[m];
                if (s->offset[other] == NO_OFFSET && s->min_offset[other] < lowest) lowest = s->min_offset[other];
            }
            if (lowest != INT64_MAX && s->floor[sec] < lowest) {
                if (push_pair(&s->floor_log, &s->floor_log_size, &s->floor_log_capacity, sec, s->floor[sec]))
                    goto no_memory;
                s->floor[sec] = lowest;
            }
        }
        /* Section inference: every section's floor plus its unplaced demand must fit. */
        int feasible = 1;
        for (int64_t sec = lo; sec < hi && feasible; sec++) {
            int64_t height = s->floor[sec] > at ? s->floor[sec] : at;
            if (height + s->total[sec] > s->capacity) feasible = 0;
        }
        int result = NOT_FOUND;
        if (feasible) {
            /* Decompose where this placement leaves no buffer crossing a section boundary. */
            s->solution[b] = at;
            int64_t *cutpoints = malloc(sizeof(int64_t) * (s->end[b] - s->first[b] + 2));
            if (!cutpoints) goto no_memory;
            int64_t n_cuts = 0;
            cutpoints[n_cuts++] = lo;
            for (int64_t sec = s->first[b]; sec + 1 < s->end[b]; sec++)
                if (--s->cuts[sec] == 0) cutpoints[n_cuts++] = sec + 1;
            if (n_cuts == 1) {
                result = search(s, members, count, lo, hi, preorder, order, n_order, at, rank);
            } else {
                cutpoints[n_cuts++] = hi;
                int64_t *part = malloc(sizeof(int64_t) * count);
                if (!part) {
                    free(cutpoints);
                    goto no_memory;
                }
                result = FOUND;
                for (int64_t c = 1; c < n_cuts && result == FOUND; c++) {
                    int64_t part_lo = cutpoints[c - 1], part_hi = cutpoints[c], n_part = 0;
                    for (int64_t m = 0; m < count; m++) {
                        int64_t other = members[m];
                        if (s->offset[other] != NO_OFFSET) continue;
                        if (!(s->end[other] <= part_lo || part_hi <= s->first[other])) part[n_part++] = other;
                    }
                    if (n_part == 0) continue;
                    result = sub_solve(s, part, n_part, part_lo, part_hi);
                }
                free(part);
            }
            for (int64_t sec = s->first[b]; sec + 1 < s->end[b]; sec++) s->cuts[sec]++;
            free(cutpoints);
        }
        /* Undo. */
        while (s->floor_log_size > floor_mark) {
            s->floor_log_size -= 2;
            s->floor[s->floor_log[s->floor_log_size]] = s->floor_log[s->floor_log_size + 1];
        }
        for (int64_t sec = s->first[b]; sec < s->end[b]; sec++) s->total[sec] += s->size[b];
        while (s->offset_log_size > offset_mark) {
            s->offset_log_size -= 2;
            s->min_offset[s->offset_log[s->offset_log_size]] = s->offset_log[s->offset_log_size + 1];
        }
        s->offset[b] = NO_OFFSET;
        if (result != NOT_FOUND) {
            status = result;
            break;
        }
        /* A buffer that overlaps no unplaced buffer changes nothing for the others: if it fails, all do. */
        if (hatless) break;
    }
    if (status == NOT_FOUND) s->backtracks++;
    free(order);
    return status;
no_memory:
    free(order);
    return NO_MEMORY;
}

/* Preorders a partition's buffers by the current heuristic and searches it from offset zero. */
static int sub_solve(Solver *s, const int64_t *members, int64_t count, int64_t lo, int64_t hi) {
    Preorder *preorder = malloc(sizeof(Preorder) * count);
    Order *order = malloc(sizeof(Order) * count);
    if (!preorder || !order) {
        free(preorder);
        free(order);
        return NO_MEMORY;
    }
    for (int64_t i = 0; i < count; i++) {
        int64_t b = members[i], total = 0;
        for (int64_t sec = s->first[b]; sec < s->end[b]; sec++)
            if (s->total[sec] > total) total = s->total[sec];
        int64_t width = s->upper[b] - s->lower[b];
        preorder[i].buffer = b;
        /* W: lifetime, A: area (size times lifetime), T: the most crowded section's unplaced demand. */
        for (int k = 0; k < 3; k++) {
            char c = s->heuristic[k];
            preorder[i].key[k] = c == 'W' ? width : c == 'A' ? s->size[b] * width : total;
        }
    }
    qsort(preorder, count, sizeof(Preorder), compare_preorders);
    for (int64_t i = 0; i < count; i++) order[i] = (Order){0, i};
    int status = search(s, members, count, lo, hi, preorder, order, count, 0, 0);
    free(preorder);
    free(order);
    return status;
}

/* Solves the problem: 0 placed (offsets in `offsets`), 1 proven not to fit, 2 out of time or of the node
 * budget `max_nodes` (0: none), 3 out of memory. `nodes` receives the nodes visited and `backtracks` the dead
 * ends. */
int canonical_search(int64_t n, const int64_t *lower, const int64_t *upper, const int64_t *size, int64_t alignment,
                     int64_t capacity, double timeout_s, int64_t max_nodes, int64_t *offsets, int64_t *nodes,
                     int64_t *backtracks) {
    Solver s;
    memset(&s, 0, sizeof s);
    s.n = n;
    s.lower = lower;
    s.upper = upper;
    s.size = size;
    s.alignment = alignment > 0 ? alignment : 1;
    s.capacity = capacity;
    s.timeout_s = timeout_s;
    clock_gettime(CLOCK_MONOTONIC, &s.started);
    *nodes = 0;
    *backtracks = 0;
    if (n == 0) return 0;
    int result = 3;
    int64_t n_parts = 0, visited = 0;
    int64_t *part_of = malloc(sizeof(int64_t) * n), *members = malloc(sizeof(int64_t) * n);
    int64_t *part_start = NULL, *part_lo = NULL, *part_hi = NULL;
    s.first = malloc(sizeof(int64_t) * n);
    s.end = malloc(sizeof(int64_t) * n);
    s.offset = malloc(sizeof(int64_t) * n);
    s.solution = malloc(sizeof(int64_t) * n);
    s.min_offset = calloc(n, sizeof(int64_t));
    if (!part_of || !members || !s.first || !s.end || !s.offset || !s.solution || !s.min_offset) goto done;
    if (sweep(&s, part_of, &n_parts)) goto done;
    int64_t sections = s.n_sections > 0 ? s.n_sections : 1;
    s.floor = calloc(sections, sizeof(int64_t));
    s.total = calloc(sections, sizeof(int64_t));
    s.cuts = calloc(sections, sizeof(int64_t));
    s.affected_stamp = calloc(sections, sizeof(int64_t));
    s.affected = malloc(sizeof(int64_t) * sections);
    part_start = calloc(n_parts + 1, sizeof(int64_t));
    part_lo = malloc(sizeof(int64_t) * (n_parts + 1));
    part_hi = malloc(sizeof(int64_t) * (n_parts + 1));
    if (!s.floor || !s.total || !s.cuts || !s.affected_stamp || !s.affected || !part_start || !part_lo || !part_hi)
        goto done;
    for (int64_t b = 0; b < n; b++) {
        s.offset[b] = NO_OFFSET;
        s.solution[b] = NO_OFFSET;
        for (int64_t sec = s.first[b]; sec < s.end[b]; sec++) s.total[sec] += size[b];
        for (int64_t sec = s.first[b]; sec + 1 < s.end[b]; sec++) s.cuts[sec]++;
        part_start[part_of[b] + 1]++;
    }
    for (int64_t p = 0; p < n_parts; p++) {
        part_start[p + 1] += part_start[p];
        part_lo[p] = INT64_MAX;
        part_hi[p] = 0;
    }
    {
        int64_t *fill = calloc(n_parts + 1, sizeof(int64_t));
        if (!fill) goto done;
        for (int64_t b = 0; b < n; b++) {
            int64_t p = part_of[b];
            members[part_start[p] + fill[p]++] = b;
            if (s.first[b] < part_lo[p]) part_lo[p] = s.first[b];
            if (s.end[b] > part_hi[p]) part_hi[p] = s.end[b];
        }
        free(fill);
    }
    /* Round robin over the preorderings, with a node limit that doubles each round. */
    int64_t node_limit = n;
    for (;;) {
        node_limit = node_limit > INT64_MAX / 2 ? INT64_MAX : 2 * node_limit;
        int status = ABORTED;
        for (int h = 0; h < N_HEURISTICS; h++) {
            s.heuristic = HEURISTICS[h];
            int64_t allowed = node_limit;
            if (max_nodes > 0 && max_nodes - visited < allowed) allowed = max_nodes - visited;
            if (allowed <= 0) {
                status = DEADLINE;
                break;
            }
            s.nodes_remaining = allowed;
            status = FOUND;
            for (int64_t p = 0; p < n_parts && status == FOUND; p++)
                status = sub_solve(&s, members + part_start[p], part_start[p + 1] - part_start[p], part_lo[p],
                                   part_hi[p]);
            visited += allowed - s.nodes_remaining;
            if (status != ABORTED) break;
        }
        if (status == ABORTED) continue;
        if (status == FOUND) {
            memcpy(offsets, s.solution, sizeof(int64_t) * n);
            result = 0;
        } else if (status == NOT_FOUND) {
            result = 1;
        } else if (status == DEADLINE) {
            result = 2;
        } else {
            result = 3;
        }
        break;
    }
done:
    *nodes = visited;
    *backtracks = s.backtracks;
    free(part_of);
    free(members);
    free(part_start);
    free(part_lo);
    free(part_hi);
    free(s.first);
    free(s.end);
    free(s.offset);
    free(s.solution);
    free(s.min_offset);
    free(s.section_start);
    free(s.section_members);
    free(s.overlap_start);
    free(s.overlap_members);
    free(s.floor);
    free(s.total);
    free(s.cuts);
    free(s.affected_stamp);
    free(s.affected);
    free(s.offset_log);
    free(s.floor_log);
    return result;
}
