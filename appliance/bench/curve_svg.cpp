#include "bench/curve_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace mpay::bench {
namespace {

constexpr double kWidth = 720, kHeight = 420, kLeft = 70, kRight = 170, kTop = 50, kBottom = 60;

struct Series {
  std::string name, colour, dash;
  std::vector<std::pair<double, double>> points;  // rate/s, ms
};

std::string fmt(const char* f, double a, double b = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return out;
}

// 1, 2, 5 x 10^k: a round step giving about `ticks` ticks up to `max`.
double niceStep(double max, int ticks) {
  const double raw = max / ticks, magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * magnitude) return m * magnitude;
  return 10 * magnitude;
}

}  // namespace

std::string latencyCurveSvg(const std::string& title, const std::vector<PhaseReport>& curve) {
  std::vector<Series> series = {{"login p50", "#1f77b4", "", {}}, {"login p99", "#1f77b4", "6,4", {}},
                                {"pay p50", "#d62728", "", {}},   {"pay p99", "#d62728", "6,4", {}}};
  for (const auto& r : curve) {
    const int base = r.name.rfind("login", 0) == 0 ? 0 : 2;
    series[base].points.emplace_back(r.perSecond(), r.p50_ms);
    series[base + 1].points.emplace_back(r.perSecond(), r.p99_ms);
  }
  double max_x = 1, max_y = 1;
  for (auto& s : series) {
    std::sort(s.points.begin(), s.points.end());
    for (auto [x, y] : s.points) max_x = std::max(max_x, x), max_y = std::max(max_y, y);
  }
  const double step_x = niceStep(max_x, 6), step_y = niceStep(max_y, 6);
  max_x = std::ceil(max_x / step_x) * step_x;
  max_y = std::ceil(max_y / step_y) * step_y;
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + x / max_x * plot_w; };
  auto py = [&](double y) { return kTop + plot_h - y / max_y * plot_h; };

  std::string svg = fmt("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\"", kWidth, kHeight) +
                    " font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += fmt("<text x=\"%.0f\" y=\"24\" font-size=\"14\">", kLeft) + escape(title) + "</text>\n";
  for (double x = 0; x <= max_x + step_x / 2; x += step_x) {
    svg += fmt("<line x1=\"%.1f\" x2=\"%.1f\"", px(x), px(x)) + fmt(" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", kTop, kTop + plot_h);
    svg += fmt("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", px(x), kTop + plot_h + 16) + fmt("%.0f", x) + "</text>\n";
  }
  for (double y = 0; y <= max_y + step_y / 2; y += step_y) {
    svg += fmt("<line x1=\"%.1f\" x2=\"%.1f\"", kLeft, kLeft + plot_w) + fmt(" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", py(y), py(y));
    svg += fmt("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", kLeft - 6, py(y) + 4) + fmt("%g", y) + "</text>\n";
  }
  svg += fmt("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">requests answered per second (open loop)</text>\n",
             kLeft + plot_w / 2, kHeight - 16);
  svg += fmt("<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">latency from the scheduled time, ms</text>\n",
             kTop + plot_h / 2);
  double legend_y = kTop + 10;
  for (const auto& s : series) {
    std::string points;
    for (auto [x, y] : s.points) points += fmt("%.1f,%.1f ", px(x), py(y));
    const std::string dash = s.dash.empty() ? "" : " stroke-dasharray=\"" + s.dash + "\"";
    svg += "<polyline fill=\"none\" stroke=\"" + s.colour + "\" stroke-width=\"2\"" + dash + " points=\"" + points + "\"/>\n";
    for (auto [x, y] : s.points)
      svg += fmt("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\"", px(x), py(y)) + " fill=\"" + s.colour + "\"/>\n";
    const double lx = kLeft + plot_w + 16;
    svg += fmt("<line x1=\"%.1f\" x2=\"%.1f\"", lx, lx + 28) + fmt(" y1=\"%.1f\" y2=\"%.1f\"", legend_y, legend_y) +
           " stroke=\"" + s.colour + "\" stroke-width=\"2\"" + dash + "/>\n";
    svg += fmt("<text x=\"%.1f\" y=\"%.1f\">", lx + 34, legend_y + 4) + s.name + "</text>\n";
    legend_y += 20;
  }
  return svg + "</svg>\n";
}

}  // namespace mpay::bench
