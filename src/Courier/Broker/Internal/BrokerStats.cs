using System.Buffers;
using System.Text.Json;

namespace Courier.Broker.Internal;

/// <summary>The JSON bodies of <c>mmi.workers</c> and <c>mmi.stats</c>.</summary>
internal static class BrokerStats
{
    /// <summary>
    /// <c>{"echo":[{"id":"…","name":"…","capacity":16,"outstanding":3,"served":120,"courier":true}]}</c>, for one service
    /// when named. A worker serving several services on one connection appears under each, with the same id, and the
    /// capacity, outstanding and served of that service.
    /// </summary>
    public static byte[] WorkersJson(IEnumerable<BrokerService> services, string only) => Write(writer =>
    {
        foreach (var service in Select(services, only))
        {
            writer.WriteStartArray(service.Name);
            foreach (var worker in service.Workers)
            {
                writer.WriteStartObject();
                writer.WriteString("id", worker.Peer.Id);
                writer.WriteString("name", worker.Peer.Name);
                writer.WriteNumber("capacity", worker.Capacity);
                writer.WriteNumber("outstanding", worker.Outstanding.Count);
                writer.WriteNumber("served", worker.Served);
                writer.WriteBoolean("courier", worker.Peer.Courier);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }
    });

    /// <summary>
    /// <c>{"echo":{"workers":2,"queued":0,"inflight":3,"served":120,"errors":0,"requeued":0,"p50_ms":0.21,"p90_ms":0.4,"p99_ms":1.1}}</c>,
    /// for one service when named. The percentiles (arrival to answer, over the last 5 to 10 s) appear once latencies are
    /// recorded: from the first <c>mmi.stats</c> on, for 30 s after the last, or while a meter listener measures them.
    /// </summary>
    public static byte[] StatsJson(IEnumerable<BrokerService> services, string only) => Write(writer =>
    {
        foreach (var service in Select(services, only))
        {
            writer.WriteStartObject(service.Name);
            writer.WriteNumber("workers", service.Workers.Count);
            writer.WriteNumber("queued", service.Queue.Count);
            writer.WriteNumber("inflight", service.Workers.Sum(w => w.Outstanding.Count));
            writer.WriteNumber("served", service.Served);
            writer.WriteNumber("errors", service.Errors);
            writer.WriteNumber("requeued", service.Requeued);
            if (service.Latency is { Count: > 0 } latency)
            {
                writer.WriteNumber("p50_ms", Math.Round(latency.Percentile(0.50)!.Value, 3));
                writer.WriteNumber("p90_ms", Math.Round(latency.Percentile(0.90)!.Value, 3));
                writer.WriteNumber("p99_ms", Math.Round(latency.Percentile(0.99)!.Value, 3));
            }

            writer.WriteEndObject();
        }
    });

    private static IEnumerable<BrokerService> Select(IEnumerable<BrokerService> services, string only)
        => services.Where(s => only.Length == 0 || s.Name == only).OrderBy(s => s.Name, StringComparer.Ordinal);

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
