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
        if (stats.BodyText == "501")
        {
            return Failed("this peer has no mmi.stats (a server rather than a broker?)");
        }

        var services = new List<ServiceRow>();
        using (var json = JsonDocument.Parse(stats.Body))
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

        var rows = new Dictionary<string, WorkerRow>(StringComparer.Ordinal);
        using (var json = JsonDocument.Parse(workers.Body))
        {
            foreach (var service in json.RootElement.EnumerateObject())
            {
                foreach (var w in service.Value.EnumerateArray())
                {
                    var id = w.TryGetProperty("id", out var i) ? i.GetString() ?? "?" : "?";
                    var name = w.TryGetProperty("name", out var n) ? n.GetString() ?? id : id;
                    rows.TryGetValue(id, out var row);
                    row ??= new WorkerRow(name, [], 0, 0, 0);
                    rows[id] = row with
                    {
                        Services = [.. row.Services, service.Name],
                        Capacity = row.Capacity + Int(w, "capacity"),
                        Outstanding = row.Outstanding + Int(w, "outstanding"),
                        Served = row.Served + Long(w, "served"),
                    };
                }
            }
        }

        return new TopSnapshot(at, services, [.. rows.Values.OrderBy(r => r.Name, StringComparer.Ordinal)], null);
    }

    private static int Int(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.TryGetInt32(out var i) ? i : 0;

    private static long Long(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.TryGetInt64(out var i) ? i : 0;

    private static double? Double(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.TryGetDouble(out var d) ? d : null;
}

internal sealed record ServiceRow(string Name, int Workers, int Queued, int InFlight, long Served, long Errors, long Requeued, double? P50, double? P90, double? P99);

internal sealed record WorkerRow(string Name, IReadOnlyList<string> Services, int Capacity, int Outstanding, long Served);
