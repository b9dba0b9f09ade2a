// SPDX-License-Identifier: MIT
/*
 * rseqkit/pool.h: per-index memory pool. Ranges are MAP_NORESERVE mappings
 * of nr_slots * stride bytes; objects are carved with a bump pointer and a
 * first-fit free list of (offset, size) chunks per range, sorted by offset
 * with neighbours merged (so a freed run serves a larger object, and a
 * double free is an overlap that free detects). A reused chunk is
 * zeroed in each instance where it is not already zero: reading a page that
 * was never written maps the zero page, so reuse does not populate indices
 * that were never used.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rseqkit/pool.h>
#include "internal.h"
#include "percpu-internal.h"

struct chunk {
	struct chunk *next;
	size_t off, size;
};

struct range {
	struct range *next;
	char *base;
	size_t bump;
	size_t used_end;	/* bytes below it were handed out at some time */
	struct chunk *free;
};

struct rseqkit__pool_priv {
	pthread_mutex_t lock;
	struct range *ranges;
};

int rseqkit_pool_init(struct rseqkit_pool *pool, size_t range_bytes, enum rseqkit_index kind)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (!pool || !range_bytes || range_bytes > (1UL << 30) ||
	    (kind != RSEQKIT_INDEX_CPU_ID && kind != RSEQKIT_INDEX_MM_CID))
		return -EINVAL;
	pool->stride = (range_bytes + page - 1) / page * page;
	pool->nr_slots = rseqkit_percpu_nr_slots();
	pool->kind = rseqkit_percpu_resolve(kind);
	pool->priv = calloc(1, sizeof(*pool->priv));
	if (!pool->priv)
		return -ENOMEM;
	pthread_mutex_init(&pool->priv->lock, NULL);
	return 0;
}

void rseqkit_pool_destroy(struct rseqkit_pool *pool)
{
	struct range *r, *rn;

	if (!pool || !pool->priv)
		return;
	for (r = pool->priv->ranges; r; r = rn) {
		struct chunk *c, *cn;

		rn = r->next;
		for (c = r->free; c; c = cn) {
			cn = c->next;
			free(c);
		}
		munmap(r->base, pool->stride * (size_t)pool->nr_slots);
		free(r);
	}
	pthread_mutex_destroy(&pool->priv->lock);
	free(pool->priv);
	pool->priv = NULL;
}

static struct range *new_range(struct rseqkit_pool *pool)
{
	struct range *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->base = mmap(NULL, pool->stride * (size_t)pool->nr_slots, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->base == MAP_FAILED) {
		free(r);
		return NULL;
	}
	/* A transparent huge page would populate many indices at once. */
	madvise(r->base, pool->stride * (size_t)pool->nr_slots, MADV_NOHUGEPAGE);
	r->next = pool->priv->ranges;
	pool->priv->ranges = r;
	return r;
}

static bool all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Make an object read zero in every instance, writing only instances that
 * are not zero already (reading a never-written page maps the zero page, so
 * indices never used stay unpopulated). */
static void zero_instances(struct rseqkit_pool *pool, char *h, size_t size)
{
	for (int i = 0; i < pool->nr_slots; i++) {
		char *inst = h + (size_t)i * pool->stride;

		if (!all_zero(inst, size))
			memset(inst, 0, size);
	}
}

static void *take_free(struct rseqkit_pool *pool, struct range *r, size_t size)
{
	for (struct chunk **pc = &r->free; *pc; pc = &(*pc)->next) {
		struct chunk *c = *pc;
		char *h;

		if (c->size < size)
			continue;
		h = r->base + c->off;
		c->off += size;
		c->size -= size;
		if (!c->size) {
			*pc = c->next;
			free(c);
		}
		zero_instances(pool, h, size);
		return h;
	}
	return NULL;
}

/* From the bump area: below used_end it may hold an object freed back
 * into it (give_back), so clear that part. */
static void *take_bump(struct rseqkit_pool *pool, struct range *r, size_t size)
{
	char *h = r->base + r->bump;

	if (pool->stride - r->bump < size)
		return NULL;
	if (r->bump < r->used_end)
		zero_instances(pool, h, (r->used_end - r->bump < size ?
					 r->used_end - r->bump : size));
	r->bump += size;
	if (r->bump > r->used_end)
		r->used_end = r->bump;
	return h;
}

void *rseqkit_pool_alloc(struct rseqkit_pool *pool, size_t size)
{
	struct range *r;
	void *h = NULL;

	if (!pool || !pool->priv || !size || size > pool->stride) {
		errno = EINVAL;
		return NULL;
	}
	size = (size + 7) & ~(size_t)7;
	pthread_mutex_lock(&pool->priv->lock);
	for (r = pool->priv->ranges; r && !h; r = r->next) {
		h = take_free(pool, r, size);
		if (!h)
			h = take_bump(pool, r, size);
	}
	if (!h) {
		r = new_range(pool);
		if (r)
			h = take_bump(pool, r, size);
	}
	pthread_mutex_unlock(&pool->priv->lock);
	if (!h)
		errno = ENOMEM;
	return h;
}

/*
 * Put [off, off + size) back into r's free list, kept sorted by offset with
 * neighbours merged, and give a chunk that ends at the bump pointer back to
 * the bump area. Returns 0, -EALREADY if any byte of it is already free
 * (double free), -ENOMEM without memory for a chunk record (the object
 * leaks, nothing else changes).
 */
static int give_back(struct range *r, size_t off, size_t size)
{
	struct chunk **pc = &r->free, *prev = NULL, *c;

	while (*pc && (*pc)->off + (*pc)->size <= off) {
		prev = *pc;
		pc = &(*pc)->next;
	}
	if (*pc && (*pc)->off < off + size)
		return -EALREADY;	/* overlaps a free chunk */
	if (prev && prev->off + prev->size == off) {
		prev->size += size;
		c = prev;
	} else {
		c = malloc(sizeof(*c));
		if (!c)
			return -ENOMEM;
		c->off = off;
		c->size = size;
		c->next = *pc;
		*pc = c;
	}
	if (c->next && c->off + c->size == c->next->off) {
		struct chunk *n = c->next;

		c->size += n->size;
		c->next = n->next;
		free(n);
	}
	if (!c->next && c->off + c->size == r->bump) {
		/* The last chunk: the bump pointer takes it back. */
		r->bump = c->off;
		for (pc = &r->free; *pc != c; pc = &(*pc)->next)
			;
		*pc = NULL;
		free(c);
	}
	return 0;
}

int rseqkit_pool_free(struct rseqkit_pool *pool, void *h, size_t size)
{
	struct range *r;
	int ret = -EINVAL;

	if (!pool || !pool->priv || !h || !size)
		return -EINVAL;
	size = (size + 7) & ~(size_t)7;
	pthread_mutex_lock(&pool->priv->lock);
	for (r = pool->priv->ranges; r; r = r->next) {
		size_t off = (size_t)((char *)h - r->base);

		if ((char *)h < r->base || off + size > r->bump)
			continue;
		ret = off % 8 ? -EINVAL : give_back(r, off, size);
		break;
	}
	pthread_mutex_unlock(&pool->priv->lock);
	if (ret == -EALREADY)
		rseqkit__diag("rseqkit_pool_free: %p (%zu bytes) is already free: double free",
			      h, size);
	if (ret == -ENOMEM)
		ret = 0;	/* without memory for the chunk record, the object leaks */
	return ret;
}

long rseqkit_pool_resident(const struct rseqkit_pool *pool, int idx)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages;
	unsigned char *vec;
	long bytes = 0;

	if (!pool || !pool->priv || idx < 0 || idx >= pool->nr_slots)
		return -EINVAL;
	pages = pool->stride / page;
	vec = malloc(pages);
	if (!vec)
		return -ENOMEM;
	pthread_mutex_lock(&pool->priv->lock);
	for (struct range *r = pool->priv->ranges; r; r = r->next) {
		if (mincore(r->base + (size_t)idx * pool->stride, pool->stride, vec))
			continue;
		for (size_t i = 0; i < pages; i++)
			bytes += (vec[i] & 1) ? (long)page : 0;
	}
	pthread_mutex_unlock(&pool->priv->lock);
	free(vec);
	return bytes;
}
