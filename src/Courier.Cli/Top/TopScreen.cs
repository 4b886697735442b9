using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Courier.Cli.Top;

/// <summary>
/// Draws snapshots in place with plain ANSI: the cursor goes home and each line is rewritten and cleared to its end, so
/// the screen does not flicker. Rates come from the difference between two snapshots. Redirected output gets plain
/// frames one after another, without escape codes.
/// </summary>
internal sealed class TopScreen(string endpoint, TextWriter output, bool ansi)
{
    private TopSnapshot? _previous;
    private bool _cleared;

    public void Draw(TopSnapshot snapshot)
    {
        var lines = Render(snapshot);
        var text = new StringBuilder();
        if (ansi)
        {
            text.Append(_cleared ? "\u001b[H" : "\u001b[H\u001b[2J");
            _cleared = true;
            foreach (var line in lines)
            {
                text.Append(line).Append("\u001b[K\n");
            }

            text.Append("\u001b[J");
        }
        else
        {
            foreach (var line in lines)
            {
                text.Append(line).Append('\n');
            }

            text.Append('\n');
        }

        output.Write(text.ToString());
        output.Flush();
        if (snapshot.Error is null)
        {
            _previous = snapshot;
        }
    }

    private List<string> Render(TopSnapshot snapshot)
    {
        var lines = new List<string>
        {
            $"courier top - {endpoint} - {DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}",
            "",
        };
        if (snapshot.Error is { } error)
        {
            lines.Add($"no answer: {Shown(error, 1024)}");
            return lines;
        }

        var seconds = _previous is null ? 0 : Stopwatch.GetElapsedTime(_previous.At, snapshot.At).TotalSeconds;
        var previous = _previous?.Services.DistinctBy(p => p.Name, StringComparer.Ordinal).ToDictionary(p => p.Name, StringComparer.Ordinal);
        lines.Add(Row("SERVICE", "WORKERS", "QUEUED", "INFLIGHT", "SERVED", "REQ/S", "ERRORS", "ERR/S", "REQUEUED", "P50 ms", "P90 ms", "P99 ms"));
        foreach (var s in snapshot.Services.Take(MaxRows))
        {
            var before = previous?.GetValueOrDefault(s.Name);
            lines.Add(Row(
                s.Name,
                N(s.Workers),
                N(s.Queued),
                N(s.InFlight),
                N(s.Served),
                Rate(s.Served, before?.Served, seconds),
                N(s.Errors),
                Rate(s.Errors, before?.Errors, seconds),
                N(s.Requeued),
                Ms(s.P50),
                Ms(s.P90),
                Ms(s.P99)));
        }

        More(lines, snapshot.Services.Count, "services");
        lines.Add("");
        lines.Add($"{"WORKER",-28} {"CAPACITY",9} {"OUTSTANDING",12} {"SERVED",12}  SERVICES");
        foreach (var w in snapshot.Workers.Take(MaxRows))
        {
            var services = string.Join(", ", w.Services.Take(8).Select(name => Shown(name, 64)));
            services += w.Services.Count > 8 ? $", … ({w.Services.Count} services)" : "";
            lines.Add($"{Clip(w.Name, 28),-28} {N(w.Capacity),9} {N(w.Outstanding),12} {N(w.Served),12}  {services}");
        }

        More(lines, snapshot.Workers.Count, "workers");
        return lines;
    }

    /// <summary>Rows drawn of each table: a screen holds fewer, and a broker (perhaps a hostile one) may list 10,000.</summary>
    internal const int MaxRows = 200;

    private static void More(List<string> lines, int count, string what)
    {
        if (count > MaxRows)
        {
            lines.Add($"… and {count - MaxRows} more {what}");
        }
    }

    /// <summary>A broker's text as the screen shows it: what would not print as itself (an escape sequence that drives the terminal) as ?.</summary>
    private static string Shown(string text, int maxBytes) => Courier.Internal.LogText.Printable(text, maxBytes);

    private static string Row(string service, params string[] columns)
    {
        var text = new StringBuilder($"{Clip(service, 18),-18}");
        foreach (var column in columns)
        {
            text.Append(' ').Append(column.PadLeft(8));
        }

        return text.ToString();
    }

    private static string Rate(long now, long? before, double seconds)
        => before is { } b && seconds > 0 ? Math.Max(0, (now - b) / seconds).ToString("0", CultureInfo.InvariantCulture) : "-";

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Ms(double? value) => value is { } v ? v.ToString(v < 10 ? "0.000" : "0.0", CultureInfo.InvariantCulture) : "-";

    private static string Clip(string text, int width)
    {
        text = Shown(text, width * 4);
        return text.Length <= width ? text : text[..(width - 1)] + "~";
    }
}
