using System.Text;
using Courier.Protocol.Internal;

namespace Courier.Broker.Internal;

/// <summary>
/// The broker's answers about its services (<c>mmi.service</c>, <c>mmi.workers</c>, <c>mmi.stats</c>): those about
/// every service, and large ones about one, are built at most once per tick however often they are asked for, and
/// bounded in size. Loop thread only.
/// </summary>
internal sealed class BrokerMmi(Dictionary<string, BrokerService> services, BrokerTelemetry telemetry)
{
    // Answers about one service of this many bytes or more are kept for the tick, this many bytes of them at most.
    private const int LargeAnswer = 4096;
    private const int MaxCachedBytes = 4 << 20;
    private int _cachedBytes;
    private readonly Dictionary<string, byte[]> _cache = new(StringComparer.Ordinal);

    /// <summary>A tick: the answers about every service are built afresh when next asked for.</summary>
    public void OnTick()
    {
        _cache.Clear();
        _cachedBytes = 0;
    }

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
            // One service: a lookup, whatever the number of services, answered fresh. A large answer (a service with
            // hundreds of workers) is kept for the rest of the tick: its name costs the asker a few bytes.
            if (!services.TryGetValue(name, out var found))
            {
                return [workers ? BrokerStats.WorkersJson([], 0) : BrokerStats.StatsJson([], 0)];
            }

            var key = service + "\n" + name;
            if (_cache.TryGetValue(key, out var kept))
            {
                return [kept];
            }

            BrokerService[] one = [found];
            var single = workers ? BrokerStats.WorkersJson(one, 1) : BrokerStats.StatsJson(one, 1);
            if (single.Length >= LargeAnswer && _cachedBytes + single.Length <= MaxCachedBytes)
            {
                _cache[key] = single;
                _cachedBytes += single.Length;
            }

            return [single];
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
