using System.Buffers;
using System.Text.Json;

namespace Courier.Broker.Internal;

/// <summary>
/// The JSON bodies of <c>mmi.workers</c> and <c>mmi.stats</c>. Anyone may ask, so an answer is bounded: at most
/// <see cref="MaxEntries"/> entries (services for <c>mmi.stats</c>, workers for <c>mmi.workers</c>), the first by
/// service name, and then a <c>"mmi.truncated":{"shown":N,"total":M}</c> member (no service can be called that).
/// </summary>
internal static class BrokerStats
{
    /// <summary>Entries in one answer: about 100 bytes each, so an answer stays near 25 KB whatever the broker holds.</summary>
    public const int MaxEntries = 256;

    public const string TruncatedKey = "mmi.truncated";

    /// <summary>
    /// <c>{"echo":[{"id":"…","name":"…","capacity":16,"room":16,"outstanding":3,"served":120,"courier":true,"idempotent":false}]}</c>, services with
    /// workers only (so at most <see cref="MaxEntries"/> of them). A worker serving
    /// several services on one connection appears under each, with the same id, and the capacity, room (below the
    /// capacity while it answers 429), outstanding and served of that service.
    /// </summary>
    public static byte[] WorkersJson(BrokerService[] services, int count) => Write(writer =>
    {
        var shown = 0;
        var total = 0;
        for (var i = 0; i < count; i++)
        {
            var service = services[i];
            total += service.Workers.Count;
            if (shown >= MaxEntries || service.Workers.Count == 0)
            {
                continue; // a service without workers has none to show (mmi.stats shows it): the answer stays bounded
            }

            writer.WriteStartArray(service.Name);
            foreach (var worker in service.Workers)
            {
                if (shown == MaxEntries)
                {
                    break;
                }

                shown++;
                writer.WriteStartObject();
                writer.WriteString("id", worker.Peer.Id);
                writer.WriteString("name", worker.Peer.Name);
                writer.WriteNumber("capacity", worker.Capacity);
                writer.WriteNumber("room", worker.Room);
                writer.WriteNumber("outstanding", worker.Outstanding.Count);
                writer.WriteNumber("served", worker.Served);
                writer.WriteBoolean("courier", worker.Peer.Courier);
                writer.WriteBoolean("idempotent", worker.Idempotent);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        Truncated(writer, shown, total);
    });

    /// <summary>
    /// <c>{"echo":{"workers":2,"queued":0,"inflight":3,"served":120,"errors":0,"requeued":0,"p50_ms":0.21,"p90_ms":0.4,"p99_ms":1.1}}</c>,
    /// for one service when named. The percentiles (arrival to answer, over the last 5 to 10 s) appear once latencies are
    /// recorded: from the first <c>mmi.stats</c> on, for 30 s after the last, or while a meter listener measures them.
    /// </summary>
    public static byte[] StatsJson(BrokerService[] services, int count) => Write(writer =>
    {
        var shown = Math.Min(count, MaxEntries);
        for (var i = 0; i < shown; i++)
        {
            var service = services[i];
            var inflight = 0;
            foreach (var worker in service.Workers)
            {
                inflight += worker.Outstanding.Count;
            }

            writer.WriteStartObject(service.Name);
            writer.WriteNumber("workers", service.Workers.Count);
            writer.WriteNumber("queued", service.Queue.Count);
            writer.WriteNumber("inflight", inflight);
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

        Truncated(writer, shown, count);
    });

    private static void Truncated(Utf8JsonWriter writer, int shown, int total)
    {
        if (shown < total)
        {
            writer.WriteStartObject(TruncatedKey);
            writer.WriteNumber("shown", shown);
            writer.WriteNumber("total", total);
            writer.WriteEndObject();
        }
    }

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
