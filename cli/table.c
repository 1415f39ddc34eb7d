// SPDX-License-Identifier: MIT
/* The one aligned-table printer every listing uses; cells may span lines. */
#include <stdlib.h>
#include <string.h>

#include "sbx.h"

#define TABLE_GAP 3

struct table {
	int ncols;
	int gap; /* spaces between columns */
	size_t nrows, cap;
	char **cells; /* nrows * ncols, row 0 the headers */
};

struct table *table_new(int ncols, const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ncols = ncols;
	t->gap = TABLE_GAP;
	table_add(t, headers);
	return t;
}

void table_set_gap(struct table *t, int gap)
{
	t->gap = gap;
}

void table_add(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **tmp = realloc(t->cells, cap * (size_t)t->ncols * sizeof(*tmp));

		if (!tmp)
			abort();
		t->cells = tmp;
		t->cap = cap;
	}
	for (int c = 0; c < t->ncols; c++) {
		char *s = strdup(cells[c] ? cells[c] : "");

		if (!s)
			abort();
		t->cells[t->nrows * (size_t)t->ncols + (size_t)c] = s;
	}
	t->nrows++;
}

/* Width of the widest line of @s, counting UTF-8 characters, not bytes. */
static size_t cell_width(const char *s, size_t *nlines)
{
	size_t w = 0, cur = 0;

	*nlines = 1;
	for (; *s; s++) {
		if (*s == '\n') {
			(*nlines)++;
			cur = 0;
			continue;
		}
		if (((unsigned char)*s & 0xc0) != 0x80)
			cur++;
		if (cur > w)
			w = cur;
	}
	return w;
}

/* Width of column @c: its widest cell. */
static size_t col_width(const struct table *t, int c)
{
	size_t w = 0, n;

	for (size_t r = 0; r < t->nrows; r++) {
		size_t cw = cell_width(t->cells[r * (size_t)t->ncols + (size_t)c], &n);

		if (cw > w)
			w = cw;
	}
	return w;
}

void table_set(struct table *t, size_t row, int col, const char *text)
{
	char **cell = &t->cells[(row + 1) * (size_t)t->ncols + (size_t)col];
	char *s = strdup(text ? text : "");

	if (!s)
		abort();
	free(*cell);
	*cell = s;
}

size_t table_room(const struct table *t, int col, size_t width)
{
	size_t used = 0;

	for (int c = 0; c < t->ncols; c++)
		if (c != col)
			used += col_width(t, c) + (size_t)t->gap;
	return used < width ? width - used : 0;
}

static const char *line_of(const char *s, size_t i, size_t *len)
{
	while (i-- && s)
		s = (s = strchr(s, '\n')) ? s + 1 : NULL;
	if (!s) {
		*len = 0;
		return "";
	}
	*len = strchr(s, '\n') ? (size_t)(strchr(s, '\n') - s) : strlen(s);
	return s;
}

void table_print(struct table *t, FILE *f)
{
	size_t *width = calloc((size_t)t->ncols, sizeof(*width)), n;

	if (!width)
		abort();
	for (int c = 0; c < t->ncols; c++)
		width[c] = col_width(t, c);
	for (size_t r = 0; r < t->nrows; r++) {
		char **row = &t->cells[r * (size_t)t->ncols];
		size_t lines = 1;

		for (int c = 0; c < t->ncols; c++) {
			cell_width(row[c], &n);
			if (n > lines)
				lines = n;
		}
		for (size_t l = 0; l < lines; l++) {
			int last = t->ncols - 1;

			/* no trailing blanks: the last non-empty cell ends the line */
			while (last > 0 && !*line_of(row[last], l, &n))
				last--;
			for (int c = 0; c <= last; c++) {
				const char *s = line_of(row[c], l, &n);
				size_t w, dummy;
				char tmp[1024];

				snprintf(tmp, sizeof(tmp), "%.*s", (int)n, s);
				w = cell_width(tmp, &dummy);
				fputs(tmp, f);
				if (c < last)
					fprintf(f, "%*s", (int)(width[c] - w) + t->gap, "");
			}
			fputc('\n', f);
		}
	}
	free(width);
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
