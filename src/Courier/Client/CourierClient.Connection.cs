using Courier.Client.Internal;
using Courier.Protocol.Internal;

namespace Courier.Client;

// Loop thread only: the current connection, and giving it requests.
public sealed partial class CourierClient
{
    private readonly Dictionary<ulong, PendingRequest> _pending = [];
    private readonly Queue<PendingRequest> _waiting = new();
    private ClientConnection? _connection;
    private int _endpointIndex = -1;

    private string Endpoint => _connection?.Endpoint ?? "";

    private ClientConnection EnsureConnected()
    {
        if (_connection is { } connection)
        {
            return connection;
        }

        _endpointIndex = (_endpointIndex + 1) % _options.Endpoints.Count;
        var endpoint = _options.Endpoints[_endpointIndex];
        ClientLog.Connecting(_logger, endpoint, _options.Protocol.ToString());
        var probeDeadline = _clock.GetTimestamp() + ToTimestampTicks(_options.Timeout);
        return _connection = new ClientConnection(_loop, endpoint, _options, _socketEvents, probeDeadline);
    }

    private void Disconnect()
    {
        _connection?.Dispose();
        _connection = null;
    }

    /// <summary>Gives <paramref name="request"/> to the current connection: sends it now or queues it behind the probe or a busy slot.</summary>
    private void Dispatch(PendingRequest request)
    {
        request.Sent = false;
        request.AttemptDeadline = _clock.GetTimestamp() + ToTimestampTicks(_options.Timeout);
        _attemptTimeouts.AddLast(request);
        var connection = EnsureConnected();
        if (connection.CanSendNow)
        {
            connection.Send(request);
        }
        else
        {
            _waiting.Enqueue(request);
        }
    }

    private void SendWaiting()
    {
        while (_connection is { CanSendNow: true } connection && _waiting.TryDequeue(out var next))
        {
            if (!next.Task.IsCompleted)
            {
                connection.Send(next);
            }
        }
    }

    /// <summary>The loop's end of turn: the requests packed this turn leave.</summary>
    private void FlushRequests() => _connection?.Flush();

    private long ToTimestampTicks(TimeSpan span) => (long)(span.TotalSeconds * _clock.TimestampFrequency);
}
