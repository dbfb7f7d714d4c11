/* chart.c — a dependency-free SVG bar chart of pass@1 per routing strategy
 * (base and plus side by side), for `codegen --evaluate` sweep summaries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev_internal.h"
#include "mg_evaluate.h"

/* XML-escapes text into the buffer. */
static int add_text(ev_buf *b, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++) {
        switch (*s) {
        case '<':
            rc = ev_buf_add(b, "&lt;", 4);
            break;
        case '>':
            rc = ev_buf_add(b, "&gt;", 4);
            break;
        case '&':
            rc = ev_buf_add(b, "&amp;", 5);
            break;
        case '"':
            rc = ev_buf_add(b, "&quot;", 6);
            break;
        default:
            rc = ev_buf_add(b, s, 1);
        }
    }
    return rc;
}

int mg_evaluate_svg_chart(const char *path, const char *title, const char *const *labels,
                          const double *base, const double *plus, size_t n, mg_error *err)
{
    if (!path || !labels || !base || n == 0)
        return mg_error_set(err, MG_EINVAL, "svg chart: nothing to draw");
    const int bar = 28, gap = 24, left = 60, top = 50, height = 300, bottom = 110;
    int group = plus ? 2 * bar + gap : bar + gap;
    int width = left + (int)n * group + 40;
    ev_buf b = {0};
    ev_buf_printf(&b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n"
                  "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                  "<text x=\"%d\" y=\"24\" font-size=\"16\">",
                  width, top + height + bottom, left);
    add_text(&b, title ? title : "pass@1 per strategy");
    ev_buf_add(&b, "</text>\n", 8);
    for (int t = 0; t <= 10; t += 2) {
        int y = top + height - height * t / 10;
        ev_buf_printf(&b,
                      "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>"
                      "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.1f</text>\n",
                      left, y, width - 20, y, left - 6, y + 4, t / 10.0);
    }
    for (size_t i = 0; i < n; i++) {
        int x = left + gap / 2 + (int)i * group;
        for (int s = 0; s < (plus ? 2 : 1); s++) {
            double v = s ? plus[i] : base[i];
            if (!(v >= 0)) v = 0;
            if (v > 1) v = 1;
            int h = (int)(v * height + 0.5);
            ev_buf_printf(&b,
                          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\">"
                          "<title>%s %.3f</title></rect>"
                          "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">%.3f"
                          "</text>\n",
                          x + s * bar, top + height - h, bar - 2, h, s ? "#e07b39" : "#3b75af",
                          s ? "plus" : "base", v, x + s * bar + bar / 2 - 1, top + height - h - 4,
                          v);
        }
        ev_buf_printf(&b, "<text transform=\"translate(%d,%d) rotate(40)\" font-size=\"11\">",
                      x + 4, top + height + 14);
        add_text(&b, labels[i] ? labels[i] : "");
        ev_buf_add(&b, "</text>\n", 8);
    }
    ev_buf_printf(&b,
                  "<rect x=\"%d\" y=\"34\" width=\"10\" height=\"10\" fill=\"#3b75af\"/>"
                  "<text x=\"%d\" y=\"43\">base</text>\n",
                  width - 150, width - 136);
    if (plus)
        ev_buf_printf(&b,
                      "<rect x=\"%d\" y=\"34\" width=\"10\" height=\"10\" fill=\"#e07b39\"/>"
                      "<text x=\"%d\" y=\"43\">plus</text>\n",
                      width - 90, width - 76);
    int rc = ev_buf_add(&b, "</svg>\n", 7);
    if (rc) {
        ev_buf_free(&b);
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    rc = mg_write_file_atomic(path, b.data, b.len, err);
    ev_buf_free(&b);
    return rc;
}
