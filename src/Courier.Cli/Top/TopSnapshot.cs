using System.Diagnostics;
using System.Text.Json;
using Courier.Client;

namespace Courier.Cli.Top;

/// <summary>One reading of a broker's <c>mmi.stats</c> and <c>mmi.workers</c>, taken at <see cref="At"/>.</summary>
internal sealed record TopSnapshot(long At, IReadOnlyList<ServiceRow> Services, IReadOnlyList<WorkerRow> Workers, string? Error)
{
    public static TopSnapshot Failed(string error) => new(Stopwatch.GetTimestamp(), [], [], error);

    public static async Task<TopSnapshot> ReadAsync(CourierClient client, CancellationToken cancellationToken)
    {
        var stats = await client.RequestAsync("mmi.stats", "", cancellationToken);
        var workers = await client.RequestAsync("mmi.workers", "", cancellationToken);
        var at = Stopwatch.GetTimestamp();
        return stats.BodyText == "501"
            ? Failed("this peer has no mmi.stats (a server rather than a broker?)")
            : Parse(at, stats.Body, workers.Body);
    }

    /// <summary>A snapshot of the JSON of <c>mmi.stats</c> and <c>mmi.workers</c>.</summary>
    internal static TopSnapshot Parse(long at, ReadOnlyMemory<byte> stats, ReadOnlyMemory<byte> workers)
    {
        var services = new List<ServiceRow>();
        using (var json = JsonDocument.Parse(stats))
        {
            foreach (var service in json.RootElement.EnumerateObject())
            {
                var s = service.Value;
                services.Add(new ServiceRow(
                    service.Name,
                    Int(s, "workers"),
                    Int(s, "queued"),
                    Int(s, "inflight"),
                    Long(s, "served"),
                    Long(s, "errors"),
                    Long(s, "requeued"),
                    Double(s, "p50_ms"),
                    Double(s, "p90_ms"),
                    Double(s, "p99_ms")));
            }
        }

        // Summed per worker as they come; a row is made once per worker, so a worker listed under many services (a
        // hostile broker picks how many) costs each listing once.
        var sums = new Dictionary<string, WorkerSum>(StringComparer.Ordinal);
        using (var json = JsonDocument.Parse(workers))
        {
            foreach (var service in json.RootElement.EnumerateObject())
            {
                foreach (var w in service.Value.EnumerateArray())
                {
                    var id = w.TryGetProperty("id", out var i) ? i.GetString() ?? "?" : "?";
                    if (!sums.TryGetValue(id, out var sum))
                    {
                        sums[id] = sum = new WorkerSum(w.TryGetProperty("name", out var n) ? n.GetString() ?? id : id);
                    }

                    sum.Services.Add(service.Name);
                    sum.Capacity += Int(w, "capacity");
                    sum.Outstanding += Int(w, "outstanding");
                    sum.Served += Long(w, "served");
                }
            }
        }

        var rows = sums.Values.Select(s => new WorkerRow(s.Name, s.Services, s.Capacity, s.Outstanding, s.Served));
        return new TopSnapshot(at, services, [.. rows.OrderBy(r => r.Name, StringComparer.Ordinal)], null);
    }

    private static int Int(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.TryGetInt32(out var i) ? i : 0;

    private static long Long(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.TryGetInt64(out var i) ? i : 0;

    private static double? Double(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.TryGetDouble(out var d) ? d : null;
}

internal sealed record ServiceRow(string Name, int Workers, int Queued, int InFlight, long Served, long Errors, long Requeued, double? P50, double? P90, double? P99);

internal sealed class WorkerSum(string name)
{
    public string Name { get; } = name;

    public List<string> Services { get; } = [];

    public int Capacity { get; set; }

    public int Outstanding { get; set; }

    public long Served { get; set; }
}

internal sealed record WorkerRow(string Name, IReadOnlyList<string> Services, int Capacity, int Outstanding, long Served);
