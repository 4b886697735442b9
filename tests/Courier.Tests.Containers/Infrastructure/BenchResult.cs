using System.Text.Json;

namespace Courier.Tests.Containers.Infrastructure;

/// <summary>What `courier bench --json` printed: its `errors: …` line and its last line, a JSON summary.</summary>
public sealed record BenchResult(long Requests, long Errors, double Rps, long P99Us, string ErrorsLine)
{
    public static BenchResult Parse(string stdout)
    {
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var json = lines.LastOrDefault(l => l.StartsWith("{\"requests\"", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("no JSON summary in the bench's output:\n" + stdout);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        return new BenchResult(
            root.GetProperty("requests").GetInt64(),
            root.GetProperty("errors").GetInt64(),
            root.GetProperty("rps").GetDouble(),
            root.GetProperty("p99_us").GetInt64(),
            lines.FirstOrDefault(l => l.StartsWith("errors:", StringComparison.Ordinal)) ?? "");
    }

    public override string ToString() => $"{Requests} requests, {Errors} errors ({ErrorsLine}), {Rps:F0}/s, p99 {P99Us} us";
}
