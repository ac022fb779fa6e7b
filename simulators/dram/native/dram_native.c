/* Compiled hot loops of the analytical DRAM model: the STL trace parser and the
 * request-level controller model.
 *
 * simulate_one is a line-for-line port of controller._simulate_one (see that
 * module for what the model does); tests check that both give identical
 * results. It is loaded with ctypes by archgym.simulators.dram.native, which
 * compiles this file with the system C compiler on first use. Both functions
 * only read their inputs and write their outputs, so callers may run them in
 * parallel threads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NEVER (-1e18)
#define UNKNOWN (1e18)

static inline double dmax(double a, double b) { return a > b ? a : b; }
static inline double dmin(double a, double b) { return a < b ? a : b; }

/* -- STL parsing -------------------------------------------------------------- */

static inline int is_blank(uint8_t c) { return c == ' ' || (c >= 9 && c <= 13); }

static inline int hex_value(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The line DRAMSys and write_stl write, "<cycle>:\t<read|write>\t0x<hex>", parsed in one pass.
 * Returns the position of the line's end (its newline, or the text's end), or -1 for any
 * other spelling, which the general tokenising parser below then reads. */
static inline int64_t parse_canonical(const uint8_t *buf, int64_t p, int64_t length, int64_t *cycle, int *write,
                                      uint64_t *address) {
    int64_t start = p, value = 0;
    while (p < length && buf[p] >= '0' && buf[p] <= '9') value = value * 10 + (buf[p++] - '0');
    if (p == start || p - start > 18 || p + 2 > length || buf[p] != ':' || buf[p + 1] != '\t') return -1;
    p += 2;
    if (p + 5 <= length && memcmp(buf + p, "read\t", 5) == 0) {
        *write = 0;
        p += 5;
    } else if (p + 6 <= length && memcmp(buf + p, "write\t", 6) == 0) {
        *write = 1;
        p += 6;
    } else {
        return -1;
    }
    if (p + 2 > length || buf[p] != '0' || (buf[p + 1] | 0x20) != 'x') return -1;
    p += 2;
    start = p;
    uint64_t hex = 0;
    int v;
    while (p < length && (v = hex_value(buf[p])) >= 0) {
        hex = (hex << 4) | (uint64_t)v;
        p++;
    }
    if (p == start || p - start > 16) return -1;
    if (p < length && buf[p] == '\r') p++;
    if (p < length && buf[p] != '\n') return -1;
    *cycle = value;
    *address = hex;
    return p;
}

/* Parses STL lines into the output arrays (room for `capacity` requests) and
 * counts the text's newlines into `*lines`. Returns the number of requests, or
 * -1 when a line is malformed or outside the grammar of trace._parse_stl, or
 * the cycles decrease: the caller then parses with that function, which
 * reports the line. */
int64_t parse_stl(const uint8_t *buf, int64_t length, int64_t request_bytes, int64_t *cycles,
                  uint8_t *is_write, uint64_t *addresses, int64_t capacity, int64_t *lines) {
    int64_t n = 0, i = 0;
    int64_t previous = 0;
    *lines = 0;
    while (i < length) {
        int64_t fast_cycle;
        uint64_t fast_address;
        int fast_write;
        int64_t fast_end = parse_canonical(buf, i, length, &fast_cycle, &fast_write, &fast_address);
        if (fast_end >= 0) {
            if (n >= capacity || (n > 0 && fast_cycle < previous)) return -1;
            previous = fast_cycle;
            cycles[n] = fast_cycle;
            is_write[n] = (uint8_t)fast_write;
            addresses[n] = fast_address;
            n++;
            if (fast_end < length) *lines += 1;
            i = fast_end + 1;
            continue;
        }
        const uint8_t *newline = memchr(buf + i, '\n', (size_t)(length - i));
        int64_t end = newline ? (int64_t)(newline - buf) : length;
        int64_t next_line = end + 1;
        if (newline) *lines += 1;
        /* Tokens of the line [i, end). */
        int64_t starts[4], lengths[4];
        int tokens = 0;
        int64_t p = i;
        while (p < end && tokens < 4) {
            while (p < end && is_blank(buf[p])) p++;
            if (p >= end) break;
            int64_t s = p;
            while (p < end && !is_blank(buf[p])) p++;
            starts[tokens] = s;
            lengths[tokens] = p - s;
            tokens++;
        }
        i = next_line;
        if (tokens == 0 || buf[starts[0]] == '#') continue;
        if (n >= capacity) return -1;
        /* The cycle, with an optional trailing colon. */
        int64_t digits = lengths[0] - (buf[starts[0] + lengths[0] - 1] == ':');
        if (digits < 1 || digits > 18) return -1;
        int64_t cycle = 0;
        for (int64_t q = 0; q < digits; q++) {
            uint8_t c = buf[starts[0] + q];
            if (c < '0' || c > '9') return -1;
            cycle = cycle * 10 + (c - '0');
        }
        /* An optional data length "(<bytes>)" before the command. */
        int field = 1;
        if (tokens >= 2 && buf[starts[1]] == '(') {
            int64_t s = starts[1], len = lengths[1];
            if (buf[s + len - 1] != ')') return -1;
            int64_t size_digits = len - 2;
            if (size_digits < 1 || size_digits > 9) return -1;
            int64_t size = 0;
            for (int64_t q = 1; q <= size_digits; q++) {
                uint8_t c = buf[s + q];
                if (c < '0' || c > '9') return -1;
                size = size * 10 + (c - '0');
            }
            if (size != request_bytes) return -1;
            field = 2;
        }
        if (tokens < field + 2) return -1;
        /* The command: read or write, any letter case. */
        const uint8_t *word = buf + starts[field];
        int write;
        if (lengths[field] == 4 && (word[0] | 0x20) == 'r' && (word[1] | 0x20) == 'e' && (word[2] | 0x20) == 'a' &&
            (word[3] | 0x20) == 'd')
            write = 0;
        else if (lengths[field] == 5 && (word[0] | 0x20) == 'w' && (word[1] | 0x20) == 'r' &&
                 (word[2] | 0x20) == 'i' && (word[3] | 0x20) == 't' && (word[4] | 0x20) == 'e')
            write = 1;
        else
            return -1;
        /* The address: hexadecimal with an optional 0x prefix. */
        int64_t s = starts[field + 1], len = lengths[field + 1];
        if (len > 2 && buf[s] == '0' && (buf[s + 1] | 0x20) == 'x') {
            s += 2;
            len -= 2;
        }
        if (len < 1 || len > 16) return -1;
        uint64_t address = 0;
        for (int64_t q = 0; q < len; q++) {
            int v = hex_value(buf[s + q]);
            if (v < 0) return -1;
            address = (address << 4) | (uint64_t)v;
        }
        if (n > 0 && cycle < previous) return -1;
        previous = cycle;
        cycles[n] = cycle;
        is_write[n] = (uint8_t)write;
        addresses[n] = address;
        n++;
    }
    return n;
}

/* -- the controller model ----------------------------------------------------- */

static int64_t heap_push(double *heap, int64_t size, double value) {
    int64_t position = size;
    heap[position] = value;
    while (position > 0) {
        int64_t parent = (position - 1) / 2;
        if (heap[parent] <= heap[position]) break;
        double swap = heap[parent];
        heap[parent] = heap[position];
        heap[position] = swap;
        position = parent;
    }
    return size + 1;
}

static int64_t heap_pop(double *heap, int64_t size) {
    size -= 1;
    heap[0] = heap[size];
    int64_t position = 0;
    while (1) {
        int64_t child = 2 * position + 1;
        if (child >= size) break;
        if (child + 1 < size && heap[child + 1] < heap[child]) child += 1;
        if (heap[position] <= heap[child]) break;
        double swap = heap[position];
        heap[position] = heap[child];
        heap[child] = swap;
        position = child;
    }
    return size;
}

static void add_idle(double *idle, int64_t bins, double start, double end, double refi) {
    int64_t k = (int64_t)(start / refi);
    if (start < 0 && (double)k * refi != start) k -= 1; /* floor, as Python's // */
    int64_t last = bins - 1;
    while (start < end) {
        double stop = dmin(end, (double)(k + 1) * refi);
        idle[k < last ? k : last] += stop - start;
        start = stop;
        k += 1;
    }
}

/* One configuration on one trace; see controller._simulate_one. Requests before
 * `first_measured` warm the controller up: they are simulated but neither their
 * activations nor their latencies are counted. Returns 0, or -1 when memory runs out. */
int simulate_one(const double *arrival, const int64_t *bank, const int64_t *row, const int64_t *is_write, int64_t n,
                 int64_t n_banks, int64_t banks_per_group, const int64_t *configuration, const double *tm,
                 const double *k, int64_t first_measured, double *result) {
    int64_t policy = configuration[0], scheduler = configuration[1], organisation = configuration[2];
    int64_t size = configuration[3], arbiter = configuration[4], max_active = configuration[5];
    int in_order = configuration[6] != 0 || configuration[4] == 2;
    double ccd = tm[0], ccd_l = tm[1], rcd = tm[2], rp = tm[3], ras = tm[4], rc = tm[5], rtp = tm[6], wrpre = tm[7];
    double rdwr = tm[8], wrrd = tm[9], wrrd_l = tm[10], rrd = tm[11], rrd_l = tm[12], faw = tm[13], rl = tm[14];
    double wl = tm[15], burst = tm[16];
    double refi = tm[17], refresh_stall = tm[3] + tm[18];
    double column_cycles = tm[19], activate_cycles = tm[20], precharge_cycles = tm[21];
    double rcd_write = tm[22];
    int64_t banks_per_rank = (int64_t)tm[23];
    int separate_buses = tm[24] != 0;
    int64_t banks_per_channel = (int64_t)tm[25];
    int shared_data_bus = tm[26] != 0;
    double rdrd_r = tm[27], rdwr_r = tm[28], wrrd_r = tm[29], wrwr_r = tm[30];
    int64_t ranks_per_channel = banks_per_channel / banks_per_rank;
    double k_enter = k[0], k_release = k[1], k_drain = k[2];
    int64_t n_groups = (n_banks + banks_per_group - 1) / banks_per_group;
    int64_t n_ranks = (n_banks + banks_per_rank - 1) / banks_per_rank;
    int64_t n_channels = (n_banks + banks_per_channel - 1) / banks_per_channel;
    int64_t capacity = 2 * size + 1;
    /* No request takes longer than all its timings in a row, so the run ends within this many intervals. */
    double worst = 64.0 + k_enter + k_release;
    for (int i = 0; i < 17; i++) worst += tm[i];
    worst += column_cycles + activate_cycles + precharge_cycles;
    int64_t bins = (int64_t)((arrival[n - 1] + (double)n * worst) / refi) + 2;

    int64_t *queue = malloc(sizeof(int64_t) * n_banks * capacity);
    int64_t *queued = calloc(n_banks, sizeof(int64_t));
    double *accepted_at = malloc(sizeof(double) * n);
    double *finished_at = malloc(sizeof(double) * n);
    int64_t *open_row = malloc(sizeof(int64_t) * n_banks);
    uint8_t *stale = malloc(n_banks);
    int64_t *pick_slot = calloc(n_banks, sizeof(int64_t));
    int64_t *pick_kind = calloc(n_banks, sizeof(int64_t));
    double *pick_ready = calloc(n_banks, sizeof(double));
    double *activated = malloc(sizeof(double) * n_banks);
    double *precharged = malloc(sizeof(double) * n_banks);
    double *bank_read = malloc(sizeof(double) * n_banks);
    double *bank_write = malloc(sizeof(double) * n_banks);
    double *group_read = malloc(sizeof(double) * n_groups);
    double *group_write = malloc(sizeof(double) * n_groups);
    double *group_activate = malloc(sizeof(double) * n_groups);
    double *freed = malloc(sizeof(double) * (n + 1));
    double *idle = calloc(bins, sizeof(double));
    /* Busy cycles per tREFI interval: each bank, each rank's data bus and activation window, the row and
       the column command bus (see controller._simulate_one). */
    int64_t resources = n_banks + 2 * n_ranks + 2 * n_channels, data_bus = n_banks, activation_window = n_banks + n_ranks;
    int64_t row_bus = n_banks + 2 * n_ranks; /* + 2 * channel; the channel's column bus follows its row bus */
    /* Per rank: the last four activations (tFAW) and the last commands. */
    double *last_four = malloc(sizeof(double) * 4 * n_ranks);
    int64_t *oldest_of_four = calloc(n_ranks, sizeof(int64_t));
    double *last_activate = malloc(sizeof(double) * n_ranks);
    double *last_read = malloc(sizeof(double) * n_ranks);
    double *last_write = malloc(sizeof(double) * n_ranks);
    /* Per channel: the command bus(es), the data bus's last direction and the buffers' occupancy. */
    double *row_bus_free = malloc(sizeof(double) * n_channels);
    double *column_bus_free = malloc(sizeof(double) * n_channels);
    int64_t *last_direction = calloc(n_channels, sizeof(int64_t));
    int64_t *in_channel = calloc(n_channels, sizeof(int64_t));
    int64_t *reads_in = calloc(n_channels, sizeof(int64_t));
    int64_t *writes_in = calloc(n_channels, sizeof(int64_t));
    int64_t *last_accepted_bank = malloc(sizeof(int64_t) * n_channels);
    /* Per channel, where ranks share the data bus: the last read and write and their ranks. */
    double *last_read_any = malloc(sizeof(double) * n_channels);
    double *last_write_any = malloc(sizeof(double) * n_channels);
    int64_t *last_read_rank = malloc(sizeof(int64_t) * n_channels);
    int64_t *last_write_rank = malloc(sizeof(int64_t) * n_channels);
    int64_t *channel_head = malloc(sizeof(int64_t) * n_channels);
    int64_t *next_in_channel = malloc(sizeof(int64_t) * n);
    double *entered_at = malloc(sizeof(double) * n);
    double *busy = calloc(bins * resources, sizeof(double));
    double *arrived = calloc(bins, sizeof(double));
    double *on_time = calloc(bins, sizeof(double));
    double activation_share = dmax(rrd, faw / 4);
    int status = 0;
    if (!queue || !queued || !accepted_at || !finished_at || !open_row || !stale || !pick_slot || !pick_kind ||
        !pick_ready || !activated || !precharged || !bank_read || !bank_write || !group_read || !group_write ||
        !group_activate || !freed || !idle || !busy || !arrived || !on_time || !last_four || !oldest_of_four ||
        !last_activate || !last_read || !last_write || !row_bus_free || !column_bus_free || !last_direction ||
        !in_channel || !reads_in || !writes_in || !last_accepted_bank || !channel_head || !next_in_channel ||
        !entered_at || !last_read_any || !last_write_any || !last_read_rank || !last_write_rank) {
        status = -1;
        goto done;
    }
    for (int64_t i = 0; i < n; i++) finished_at[i] = UNKNOWN;
    for (int64_t b = 0; b < n_banks; b++) {
        open_row[b] = -1;
        stale[b] = 1;
        activated[b] = NEVER;
        precharged[b] = NEVER;
        bank_read[b] = NEVER;
        bank_write[b] = NEVER;
    }
    for (int64_t g = 0; g < n_groups; g++) {
        group_read[g] = NEVER;
        group_write[g] = NEVER;
        group_activate[g] = NEVER;
    }
    for (int64_t r = 0; r < n_ranks; r++) {
        for (int i = 0; i < 4; i++) last_four[r * 4 + i] = NEVER;
        last_activate[r] = NEVER;
        last_read[r] = NEVER;
        last_write[r] = NEVER;
    }
    for (int64_t c = 0; c < n_channels; c++) {
        row_bus_free[c] = NEVER;
        column_bus_free[c] = NEVER;
        last_read_any[c] = NEVER;
        last_write_any[c] = NEVER;
        last_read_rank[c] = -1;
        last_write_rank[c] = -1;
    }
    int64_t in_buffer = 0, in_flight = 0;
    int64_t n_freed = 0, next_delivery = 0, accepted = 0, served = 0;
    /* Behind the Fifo and Reorder arbiters several channels do not wait for each other: requests enter
       the arbiter in order while fewer than MaxActiveTransactions are in flight, and each channel's
       controller takes its own in order as it has room (see controller._simulate_one). */
    int queues_per_channel = n_channels > 1 && arbiter > 0;
    int64_t entered = 0;
    for (int64_t c = 0; c < n_channels; c++) {
        last_accepted_bank[c] = -1;
        channel_head[c] = n;
    }
    for (int64_t i = n - 1; i >= 0; i--) {
        int64_t c = bank[i] / banks_per_channel;
        next_in_channel[i] = channel_head[c];
        channel_head[c] = i;
    }
    double last_delivery = NEVER, now = 0.0, finish = 0.0, latency = 0.0, idle_since = 0.0;
    int64_t activations = 0, measured_activations = 0;

    while (served < n) {
        /* When the next request can enter the arbiter, and be accepted by its channel's controller. */
        double enter_at = UNKNOWN;
        if (entered < n) {
            enter_at = dmax(arrival[entered], now);
            if (arbiter > 0 && in_flight >= max_active) enter_at = n_freed > 0 ? dmax(enter_at, freed[0]) : UNKNOWN;
        }
        double accept_at = UNKNOWN;
        int64_t to_accept = n;
        for (int64_t channel = 0; channel < (queues_per_channel ? n_channels : 1); channel++) {
            int64_t head = queues_per_channel ? channel_head[channel] : accepted;
            if (head >= n || (queues_per_channel && head >= entered)) continue;
            int64_t c = bank[head] / banks_per_channel;
            int room;
            if (organisation == 0)
                room = in_channel[c] < size;
            else if (organisation == 1)
                room = reads_in[c] < size && writes_in[c] < size;
            else
                room = last_accepted_bank[c] < 0 || queued[last_accepted_bank[c]] < size;
            if (room) {
                double at = queues_per_channel ? dmax(entered_at[head], now) : enter_at;
                if (at < accept_at) {
                    accept_at = at;
                    to_accept = head;
                }
            }
        }
        /* The command that can issue first, over the banks' chosen requests. */
        double command_at = UNKNOWN;
        int64_t chosen_bank = -1, chosen = n;
        for (int64_t b = 0; b < n_banks; b++) {
            if (queued[b] == 0) continue;
            int64_t *bank_queue = queue + b * capacity;
            if (stale[b]) {
                stale[b] = 0;
                int64_t slot = 0;
                if (scheduler > 0 && open_row[b] >= 0) {
                    int64_t hit = -1, hit_same_direction = -1;
                    for (int64_t q = 0; q < queued[b]; q++) {
                        int64_t request = bank_queue[q];
                        if (row[request] == open_row[b]) {
                            if (hit < 0) hit = q;
                            if (scheduler == 2 && hit_same_direction < 0 &&
                                is_write[request] == last_direction[b / banks_per_channel])
                                hit_same_direction = q;
                        }
                    }
                    if (hit_same_direction >= 0)
                        slot = hit_same_direction;
                    else if (hit >= 0)
                        slot = hit;
                }
                int64_t request = bank_queue[slot];
                double own = accepted_at[request] + k_enter;
                int64_t kind;
                if (open_row[b] == row[request]) {
                    kind = 0;
                    own = dmax(own, activated[b] + (is_write[request] ? rcd_write : rcd));
                } else if (open_row[b] >= 0) {
                    kind = 2;
                    own = dmax(dmax(dmax(own, activated[b] + ras), bank_read[b] + rtp), bank_write[b] + wrpre);
                } else {
                    kind = 1;
                    own = dmax(dmax(own, precharged[b]), activated[b] + rc);
                }
                pick_slot[b] = slot;
                pick_kind[b] = kind;
                pick_ready[b] = own;
            }
            int64_t request = bank_queue[pick_slot[b]];
            int64_t g = b / banks_per_group;
            int64_t r = b / banks_per_rank;
            int64_t c = b / banks_per_channel;
            int64_t kind = pick_kind[b];
            double t;
            if (kind == 0) {
                t = dmax(pick_ready[b], column_bus_free[c]);
                if (is_write[request])
                    t = dmax(dmax(dmax(t, last_write[r] + ccd), group_write[g] + ccd_l), last_read[r] + rdwr);
                else
                    t = dmax(dmax(dmax(dmax(t, last_read[r] + ccd), group_read[g] + ccd_l), last_write[r] + wrrd),
                             group_write[g] + wrrd_l);
                if (shared_data_bus) {
                    if (last_read_rank[c] >= 0 && last_read_rank[c] != r)
                        t = dmax(t, last_read_any[c] + (is_write[request] ? rdwr_r : rdrd_r));
                    if (last_write_rank[c] >= 0 && last_write_rank[c] != r)
                        t = dmax(t, last_write_any[c] + (is_write[request] ? wrwr_r : wrrd_r));
                }
            } else {
                t = dmax(pick_ready[b], row_bus_free[c]);
                if (kind == 1)
                    t = dmax(dmax(dmax(t, last_activate[r] + rrd), group_activate[g] + rrd_l),
                             last_four[r * 4 + oldest_of_four[r]] + faw);
            }
            if (t < command_at || (t == command_at && request < chosen)) {
                command_at = t;
                chosen_bank = b;
                chosen = request;
            }
        }
        if (queues_per_channel && enter_at <= accept_at && enter_at < command_at) {
            entered_at[entered] = enter_at;
            while (n_freed > 0 && freed[0] <= enter_at) {
                n_freed = heap_pop(freed, n_freed);
                in_flight -= 1;
            }
            in_flight += 1;
            entered += 1;
            now = enter_at;
            continue;
        }
        /* A command due in the cycle a request is accepted goes first. */
        if (accept_at < command_at) {
            int64_t request = to_accept;
            int64_t b = bank[request];
            queue[b * capacity + queued[b]] = request;
            queued[b] += 1;
            stale[b] = 1;
            accepted_at[request] = accept_at;
            int64_t accepted_in = (int64_t)(accept_at / refi);
            if (accepted_in > bins - 1) accepted_in = bins - 1;
            arrived[accepted_in] += 1.0;
            if (accept_at == arrival[request]) on_time[accepted_in] += 1.0;
            if (in_buffer == 0 && arrival[request] > idle_since) add_idle(idle, bins, idle_since, arrival[request], refi);
            in_buffer += 1;
            int64_t c = b / banks_per_channel;
            in_channel[c] += 1;
            if (is_write[request])
                writes_in[c] += 1;
            else
                reads_in[c] += 1;
            last_accepted_bank[c] = b;
            if (queues_per_channel) {
                channel_head[c] = next_in_channel[request];
            } else {
                if (arbiter > 0) {
                    while (n_freed > 0 && freed[0] <= accept_at) {
                        n_freed = heap_pop(freed, n_freed);
                        in_flight -= 1;
                    }
                    in_flight += 1;
                }
                entered += 1;
            }
            accepted += 1;
            now = accept_at;
            continue;
        }
        int64_t b = chosen_bank;
        int64_t g = b / banks_per_group;
        double t = command_at;
        now = t;
        int64_t request = chosen;
        stale[b] = 1;
        int64_t r = b / banks_per_rank;
        int64_t c = b / banks_per_channel;
        int64_t interval = (int64_t)(t / refi);
        double *busy_now = busy + (interval < bins - 1 ? interval : bins - 1) * resources;
        if (pick_kind[b] == 2) {
            row_bus_free[c] = t + precharge_cycles;
            if (!separate_buses) column_bus_free[c] = row_bus_free[c];
            busy_now[row_bus + 2 * c] += precharge_cycles;
            open_row[b] = -1;
            precharged[b] = t + rp;
            continue;
        }
        if (pick_kind[b] == 1) {
            row_bus_free[c] = t + activate_cycles;
            if (!separate_buses) column_bus_free[c] = row_bus_free[c];
            busy_now[b] += rc;
            busy_now[row_bus + 2 * c] += activate_cycles;
            busy_now[activation_window + r] += activation_share;
            open_row[b] = row[request];
            activated[b] = t;
            last_activate[r] = t;
            group_activate[g] = t;
            last_four[r * 4 + oldest_of_four[r]] = t;
            oldest_of_four[r] = (oldest_of_four[r] + 1) % 4;
            activations += 1;
            if (request >= first_measured) measured_activations += 1;
            continue;
        }
        /* The column command: the request leaves the buffer. */
        column_bus_free[c] = t + column_cycles;
        if (separate_buses) {
            busy_now[row_bus + 2 * c + 1] += column_cycles;
        } else {
            row_bus_free[c] = column_bus_free[c];
            busy_now[row_bus + 2 * c] += column_cycles;
        }
        /* A channel's ranks share its data bus (DDR), or have one each (HBM2 pseudo channels). */
        int64_t bus = data_bus + (shared_data_bus ? r - r % ranks_per_channel : r);
        if (is_write[request] == last_direction[c]) busy_now[bus] += ccd;
        else busy_now[bus] += is_write[request] ? rdwr : wrrd; /* the bus turns around */
        double done_at;
        if (is_write[request]) {
            last_write_any[c] = t;
            last_write_rank[c] = r;
            last_write[r] = t;
            bank_write[b] = t;
            group_write[g] = t;
            done_at = t + wl + burst;
            writes_in[c] -= 1;
        } else {
            last_read[r] = t;
            bank_read[b] = t;
            group_read[g] = t;
            done_at = t + rl + burst;
            reads_in[c] -= 1;
            last_read_any[c] = t;
            last_read_rank[c] = r;
        }
        if (scheduler == 2 && is_write[request] != last_direction[c])
            for (int64_t other = c * banks_per_channel; other < (c + 1) * banks_per_channel && other < n_banks; other++)
                stale[other] = 1;
        last_direction[c] = is_write[request];
        int64_t *bank_queue = queue + b * capacity;
        for (int64_t q = pick_slot[b]; q < queued[b] - 1; q++) bank_queue[q] = bank_queue[q + 1];
        queued[b] -= 1;
        in_buffer -= 1;
        in_channel[c] -= 1;
        served += 1;
        if (request >= first_measured) latency += done_at - arrival[request];
        finish = dmax(finish, done_at);
        if (in_buffer == 0) idle_since = t;
        int close;
        if (policy == 2)
            close = 1;
        else if (policy == 0)
            close = 0;
        else {
            int same_row = 0, other_row = 0;
            for (int64_t q = 0; q < queued[b]; q++) {
                if (row[bank_queue[q]] == open_row[b])
                    same_row = 1;
                else
                    other_row = 1;
            }
            close = policy == 1 ? (other_row && !same_row) : !same_row;
        }
        if (close) {
            double precharge = dmax(t + (is_write[request] ? wrpre : rtp), activated[b] + ras);
            precharged[b] = precharge + rp;
            open_row[b] = -1;
        }
        if (arbiter > 0) {
            finished_at[request] = done_at + k_release;
            if (in_order) {
                while (next_delivery < entered && finished_at[next_delivery] < UNKNOWN) {
                    last_delivery = dmax(last_delivery, finished_at[next_delivery]);
                    n_freed = heap_push(freed, n_freed, last_delivery);
                    next_delivery += 1;
                }
            } else {
                n_freed = heap_push(freed, n_freed, finished_at[request]);
            }
        }
    }
    {
        double total = finish + k_drain;
        int64_t measured = n - first_measured;
        result[0] = total;
        result[1] = (double)measured_activations;
        result[2] = latency / (double)measured;
        /* The exposed span: see controller._simulate_one. */
        for (int64_t interval = 0; interval < bins; interval++) {
            double most = 0.0;
            for (int64_t r = 0; r < resources; r++) most = dmax(most, busy[interval * resources + r]);
            double free_cycles = dmin(refi, dmax(total - (double)interval * refi, 0.0)) - most;
            if (arrived[interval] > 0) free_cycles *= on_time[interval] / arrived[interval];
            idle[interval] = dmax(idle[interval], free_cycles);
        }
        int64_t due = (int64_t)(total / refi);
        double stall = refresh_stall + rcd * (double)(n - activations) / (double)n;
        double exposed = total - (double)due * refi;
        double after = 0.0;
        for (int64_t interval = due + 1; interval < bins; interval++) after += idle[interval];
        for (int64_t j = due; j > 0; j--) {
            if (j < bins) after += idle[j];
            if ((double)(due - j + 1) * stall > after) exposed = total - (double)(j - 1) * refi;
        }
        result[3] = exposed;
        result[4] = accepted_at[first_measured];
        result[5] = accepted_at[n - 1];
    }
done:
    free(queue);
    free(queued);
    free(accepted_at);
    free(finished_at);
    free(open_row);
    free(stale);
    free(pick_slot);
    free(pick_kind);
    free(pick_ready);
    free(activated);
    free(precharged);
    free(bank_read);
    free(bank_write);
    free(group_read);
    free(group_write);
    free(group_activate);
    free(freed);
    free(idle);
    free(busy);
    free(arrived);
    free(on_time);
    free(last_four);
    free(oldest_of_four);
    free(last_activate);
    free(last_read);
    free(last_write);
    free(row_bus_free);
    free(column_bus_free);
    free(last_direction);
    free(in_channel);
    free(reads_in);
    free(writes_in);
    free(last_accepted_bank);
    free(channel_head);
    free(next_in_channel);
    free(entered_at);
    free(last_read_any);
    free(last_write_any);
    free(last_read_rank);
    free(last_write_rank);
    return status;
}
