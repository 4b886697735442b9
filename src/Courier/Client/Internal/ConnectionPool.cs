using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Client.Internal;

/// <summary>
/// A client's connections: one per endpoint, opened when first needed and replaced when judged dead, plus those
/// retiring (their peer refused work as stopping or full: they finish what they hold and take nothing new). Requests
/// spread over the live ones, least loaded first. Knows nothing of requests beyond each connection's count. Loop
/// thread only.
/// </summary>
internal sealed class ConnectionPool : IDisposable
{
    private readonly CourierClientOptions _options;
    private readonly ITransportLoop _loop;
    private readonly IClientConnectionOwner _owner;
    private readonly ILogger _logger;
    private readonly IReadOnlyList<string> _endpoints;
    private readonly ClientConnection?[] _slots;
    private readonly long[] _unreachableUntil;
    private readonly CourierUnreachableException?[] _unreachable;

    // An endpoint whose fresh connections refuse (503) before answering anything is connected again after a backoff that
    // grows with each such connection in a row (as the refused requests' own), not at once: a peer that refuses
    // everything must not make the client open a connection, and log its lines, per refusal.
    private readonly long[] _reopenAt;
    private readonly int[] _refusedInRow;
    private readonly List<ClientConnection> _retiring = [];
    private readonly long _timeoutTicks;
    private int _next;

    public ConnectionPool(CourierClientOptions options, ITransportLoop loop, IClientConnectionOwner owner, ILogger logger)
    {
        _options = options;
        _loop = loop;
        _owner = owner;
        _logger = logger;
        _endpoints = options.ConnectEndpoints;
        _slots = new ClientConnection?[_endpoints.Count];
        _unreachableUntil = new long[_endpoints.Count];
        _unreachable = new CourierUnreachableException?[_endpoints.Count];
        _reopenAt = new long[_endpoints.Count];
        _refusedInRow = new int[_endpoints.Count];
        _timeoutTicks = ClientEngine.Ticks(options.Timeout, options.TimeProvider.TimestampFrequency);
    }

    /// <summary>
    /// Retiring connections kept for their last answers, per endpoint. Each holds a descriptor and libzmq's buffers, and a
    /// peer that answers one request, refuses another and keeps the rest would otherwise make the client hold one
    /// connection per such exchange until its requests time out. Per endpoint, so that one endpoint's peer cannot use up
    /// another's. A refusal past them leaves its connection current (put aside while another can take requests); a peer
    /// found restarted past them has its endpoint's oldest given up (<c>ClientEngine.BoundRetiring</c>).
    /// </summary>
    public const int MaxRetiring = 32;

    /// <summary>The connection of each endpoint (null where none is open) and then those retiring.</summary>
    public IEnumerable<ClientConnection> All => _slots.OfType<ClientConnection>().Concat(_retiring);

    /// <summary>
    /// The connection that should take the next request: the live one with the fewest requests out (the endpoints taken in
    /// turn among equals), preferring one to any endpoint other than <paramref name="avoid"/>'s. Opens missing connections
    /// on the way. Null when none can take it now (negotiating, full), with <paramref name="error"/> set only when no
    /// endpoint could even be connected.
    /// </summary>
    public ClientConnection? Pick(ClientConnection? avoid, long now, out CourierUnreachableException? error)
    {
        error = null;
        ClientConnection? best = null;
        var bestAvoided = false;
        var open = 0;
        var putOff = false;
        var start = _next;
        for (var i = 0; i < _slots.Length; i++)
        {
            var slot = (start + i) % _slots.Length;
            var connection = _slots[slot] ?? Open(slot, now, ref error);
            if (connection is null)
            {
                // Put off after refusals: a connection comes soon, so another endpoint's failure is not the answer.
                putOff |= now < _reopenAt[slot];
                continue;
            }

            open++;
            if (!connection.CanSendNow)
            {
                continue;
            }

            // Avoided: one to the endpoint of the one named (a fresh connection to an endpoint that just refused is the
            // same busy server, unless a proxy is between: then it is the only endpoint, and still taken), or one kept
            // after a refusal (its endpoint had no room to retire it) until its backoff ends.
            var avoided = (avoid is not null && connection.Slot == avoid.Slot) || now < connection.RefusedUntil;
            if (best is null
                || (bestAvoided && !avoided)
                || (avoided == bestAvoided && connection.SentCount < best.SentCount))
            {
                best = connection;
                bestAvoided = avoided;
            }
        }

        if (open > 0 || putOff)
        {
            error = null;
        }

        if (best is not null)
        {
            _next = (best.Slot + 1) % _slots.Length;
        }

        return best;
    }

    /// <summary>Sends what every connection packed this turn.</summary>
    public void FlushAll()
    {
        foreach (var connection in _slots)
        {
            connection?.Flush();
        }

        foreach (var connection in _retiring)
        {
            connection.Flush();
        }
    }

    /// <summary>Whether a connection other than <paramref name="connection"/> could take a request now.</summary>
    public bool HasOtherThan(ClientConnection connection)
        => _slots.Any(c => c is not null && !ReferenceEquals(c, connection) && c.CanSendNow);

    /// <summary>
    /// Stops giving <paramref name="connection"/> new requests; its endpoint gets a fresh connection when next needed (a
    /// TCP proxy in front of several servers gives that one to another server).
    /// </summary>
    public void Retire(ClientConnection connection) => _ = TryRetire(connection);

    /// <summary><see cref="Retire"/>; false when <paramref name="connection"/> was no longer its endpoint's current one.</summary>
    private bool TryRetire(ClientConnection connection)
    {
        if (connection.Retiring || !ReferenceEquals(_slots[connection.Slot], connection))
        {
            return false;
        }

        connection.Retiring = true;
        _slots[connection.Slot] = null;
        _retiring.Add(connection);
        return true;
    }

    /// <summary>
    /// <see cref="Retire"/> for a refusal (503). A connection that answered something before is retired as any other (its
    /// peer refused one request: a full queue, a service that is busy), and its endpoint connected again when next
    /// needed; one that answered nothing but refusals puts its endpoint off for a backoff that grows with each such
    /// connection in a row.
    /// </summary>
    public void RetireRefused(ClientConnection connection, long now)
    {
        if (!TryRetire(connection))
        {
            return;
        }

        ClientLog.Retiring(_logger, connection.Endpoint, connection.SentCount);

        // Still holding requests it took (a full queue behind a slow worker refuses the rest) is no peer refusing
        // everything either.
        var slot = connection.Slot;
        if (connection.HasAnswered || connection.SentCount > 0)
        {
            _refusedInRow[slot] = 0;
        }
        else
        {
            _reopenAt[slot] = now + RefusedRequests.Backoff(++_refusedInRow[slot], _options.TimeProvider.TimestampFrequency);
        }
    }

    /// <summary>The connection open now to the endpoint of <paramref name="old"/> (its slot), if any.</summary>
    public ClientConnection? Current(ClientConnection old) => _slots[old.Slot] is { IsClosed: false } current ? current : null;

    /// <summary>Closes <paramref name="connection"/>; the caller moves or fails what it held.</summary>
    public void Close(ClientConnection connection)
    {
        if (ReferenceEquals(_slots[connection.Slot], connection))
        {
            _slots[connection.Slot] = null;
        }

        _retiring.Remove(connection);
        connection.Dispose();
    }

    /// <summary>
    /// Whether <paramref name="connection"/> may retire: its endpoint has fewer than <see cref="MaxRetiring"/> retiring
    /// once those that hold nothing any more are closed (at the bound, at once), or it holds nothing itself (closed at the
    /// next tick, unless an earlier run's answer it may still bring comes first).
    /// </summary>
    public bool HasRoomToRetire(ClientConnection connection)
    {
        if (RetiringOf(connection.Slot) < MaxRetiring)
        {
            return true;
        }

        // Closed now rather than at the tick: a peer that answers each fresh connection once and refuses the rest would
        // otherwise pile up idle ones past the bound within a tick.
        CloseIdleRetiring();
        return connection.SentCount == 0 || RetiringOf(connection.Slot) < MaxRetiring;
    }

    /// <summary>How many of <paramref name="slot"/>'s connections are retiring.</summary>
    public int RetiringOf(int slot)
    {
        var count = 0;
        foreach (var connection in _retiring)
        {
            count += connection.Slot == slot ? 1 : 0;
        }

        return count;
    }

    /// <summary>The oldest retiring connection of <paramref name="slot"/>, if any.</summary>
    public ClientConnection? OldestRetiringOf(int slot) => _retiring.Find(c => c.Slot == slot);

    /// <summary>Closes the retiring connections that hold nothing any more.</summary>
    public void CloseIdleRetiring()
    {
        for (var i = _retiring.Count - 1; i >= 0; i--)
        {
            if (_retiring[i].SentCount == 0)
            {
                _retiring[i].Dispose();
                _retiring.RemoveAt(i);
            }
        }
    }

    public void Dispose()
    {
        foreach (var connection in All.ToArray())
        {
            connection.Dispose();
        }

        Array.Clear(_slots);
        _retiring.Clear();
    }

    private ClientConnection? Open(int slot, long now, ref CourierUnreachableException? error)
    {
        if (now < _unreachableUntil[slot])
        {
            error ??= _unreachable[slot];
            return null;
        }

        if (now < _reopenAt[slot])
        {
            return null; // refused there just now: what waits is placed at a tick once the backoff is over
        }

        var endpoint = _endpoints[slot];
        ClientLog.Connecting(_logger, endpoint, _options.Protocol.ToString());
        try
        {
            _slots[slot] = new ClientConnection(_loop, slot, endpoint, _options, _owner, now + _timeoutTicks);
            if (Diagnostics.Internal.CourierMetrics.ClientConnections.Enabled)
            {
                Diagnostics.Internal.CourierMetrics.ClientConnections.Add(1);
            }

            return _slots[slot];
        }
#pragma warning disable CA1031 // Whatever the transport throws for this address fails the requests that needed it, not the loop.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            // Asked again only after a while (a second, or the attempt timeout if shorter): a refused address must not
            // cost a failed connect per request, nor stay refused long after it became reachable (an inproc bind).
            _unreachableUntil[slot] = now + Math.Min(_timeoutTicks, _options.TimeProvider.TimestampFrequency);
            error = _unreachable[slot] = new CourierUnreachableException(endpoint, ex);
            return null;
        }
    }
}
