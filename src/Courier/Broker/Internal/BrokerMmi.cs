using System.Text;
using Courier.Protocol.Internal;

namespace Courier.Broker.Internal;

/// <summary>
/// The broker's answers about its services (<c>mmi.service</c>, <c>mmi.workers</c>, <c>mmi.stats</c>): those about
/// every service are built at most once per tick however often they are asked for, and bounded in size. Loop thread only.
/// </summary>
internal sealed class BrokerMmi(Dictionary<string, BrokerService> services, BrokerTelemetry telemetry)
{
    private readonly Dictionary<string, byte[]> _cache = new(StringComparer.Ordinal);

    /// <summary>A tick: the answers about every service are built afresh when next asked for.</summary>
    public void OnTick() => _cache.Clear();

    public IReadOnlyList<ReadOnlyMemory<byte>>? Answer(string service, ReadOnlySpan<byte> argument)
    {
        var name = Encoding.UTF8.GetString(argument);
        if (service == "mmi.service")
        {
            return [services.TryGetValue(name, out var s) && s.Workers.Count > 0 ? Mmi.Found : Mmi.NotFound];
        }

        if (service is not ("mmi.workers" or "mmi.stats"))
        {
            return null;
        }

        if (service == "mmi.stats")
        {
            telemetry.Watch(); // from now on latencies are recorded: the next answers have percentiles
        }

        var workers = service == "mmi.workers";
        if (name.Length > 0)
        {
            // One service: a lookup, whatever the number of services.
            BrokerService[] one = services.TryGetValue(name, out var found) ? [found] : [];
            return [workers ? BrokerStats.WorkersJson(one, one.Length) : BrokerStats.StatsJson(one, one.Length)];
        }

        // Every service: built at most once per tick however often it is asked for, and bounded in size.
        if (!_cache.TryGetValue(service, out var answer))
        {
            var sorted = services.Values.ToArray();
            Array.Sort(sorted, static (x, y) => string.CompareOrdinal(x.Name, y.Name));
            answer = workers ? BrokerStats.WorkersJson(sorted, sorted.Length) : BrokerStats.StatsJson(sorted, sorted.Length);
            _cache[service] = answer;
        }

        return [answer];
    }
}
