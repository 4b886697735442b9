using Microsoft.Extensions.Logging;

namespace Courier.Client.Internal;

/// <summary>
/// Says, at a bounded rate, that a client's requests could not even be queued (a connection's queue at its high-water
/// mark): the caller learns it only from the attempt timeout, and an operator would not at all. Loop thread only.
/// </summary>
internal sealed class RefusedSends(ILogger logger, int highWatermark, long timestampFrequency)
{
    /// <summary>At most one line this often; what is refused in between is added to the next.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private int _unreported;
    private string? _endpoint;
    private long _due;

    /// <summary>Takes each connection's count of refused requests, and logs them when a line is due.</summary>
    public void Report(IEnumerable<ClientConnection> connections, long now)
    {
        foreach (var connection in connections)
        {
            if (connection.TakeRefused() is > 0 and var refused)
            {
                _unreported += refused;
                _endpoint = connection.Endpoint;
            }
        }

        if (_unreported > 0 && now >= _due)
        {
            ClientLog.SendsRefused(logger, _endpoint!, _unreported, highWatermark, Interval);
            _unreported = 0;
            _due = now + (long)(Interval.TotalSeconds * timestampFrequency);
        }
    }
}
