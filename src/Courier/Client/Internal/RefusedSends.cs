using Microsoft.Extensions.Logging;

namespace Courier.Client.Internal;

/// <summary>
/// Says, at a bounded rate, that a client's requests could not even be queued (a connection's queue at its high-water
/// mark): the caller learns it only from the attempt timeout, and an operator would not at all. Counted per endpoint
/// (a client has a few, from its options) as each refusal happens, so a connection closed before the next line loses
/// nothing. Loop thread only.
/// </summary>
internal sealed class RefusedSends(ILogger logger, int highWatermark, long timestampFrequency)
{
    /// <summary>At most one line per endpoint this often; what is refused in between is added to the next.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly Dictionary<string, int> _unreported = [];
    private long _due;

    public void Add(string endpoint, int requests)
    {
        _unreported[endpoint] = _unreported.GetValueOrDefault(endpoint) + requests;
        Diagnostics.Internal.CourierMetrics.ClientRefused.Add(requests);
    }

    /// <summary>Logs what was refused since the last lines, when they are due (the loop's tick calls it).</summary>
    public void Report(long now)
    {
        if (_unreported.Count == 0 || now < _due)
        {
            return;
        }

        foreach (var (endpoint, requests) in _unreported)
        {
            ClientLog.SendsRefused(logger, endpoint, requests, highWatermark, Interval);
        }

        _unreported.Clear();
        _due = now + (long)(Interval.TotalSeconds * timestampFrequency);
    }
}
