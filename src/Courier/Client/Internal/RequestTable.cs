namespace Courier.Client.Internal;

/// <summary>
/// A client's requests in flight: by id, those waiting for a connection that can take them, and their two lists of
/// timeouts (the current attempt's, the whole request's). Knows nothing of connections beyond which one a request is on.
/// Loop thread only.
/// </summary>
internal sealed class RequestTable
{
    private readonly Dictionary<ulong, PendingRequest> _pending = [];
    private readonly Queue<PendingRequest> _waiting = new();

    public TimeoutList AttemptTimeouts { get; } = new(TimeoutKind.Attempt);

    public TimeoutList Deadlines { get; } = new(TimeoutKind.Deadline);

    public int Count => _pending.Count;

    public void Add(PendingRequest request)
    {
        _pending.Add(request.Id, request);
        if (request.Deadline != long.MaxValue)
        {
            Deadlines.AddInOrder(request);
        }
    }

    public bool TryGet(ulong id, out PendingRequest request) => _pending.TryGetValue(id, out request!);

    /// <summary>Takes <paramref name="request"/> off the table and off its connection; false when it was not on the table.</summary>
    public bool Remove(PendingRequest request)
    {
        if (!_pending.Remove(request.Id))
        {
            return false;
        }

        Detach(request);
        AttemptTimeouts.Remove(request);
        Deadlines.Remove(request);
        return true;
    }

    /// <summary>Takes <paramref name="request"/> off the connection its attempt went out on, if any.</summary>
    public static void Detach(PendingRequest request)
    {
        if (request.Connection is { } connection)
        {
            connection.Released(request);
            request.Connection = null;
        }
    }

    /// <summary>Queues a request until a connection can take it.</summary>
    public void Wait(PendingRequest request) => _waiting.Enqueue(request);

    public bool HasWaiting => _waiting.Count > 0;

    /// <summary>The oldest request still waiting (those answered, failed or sent since they queued are skipped).</summary>
    public bool TryTakeWaiting(out PendingRequest request)
    {
        while (_waiting.TryDequeue(out request!))
        {
            if (request.Connection is null && _pending.ContainsKey(request.Id) && !request.Task.IsCompleted)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The requests whose current attempt is on <paramref name="connection"/>, oldest first.</summary>
    public PendingRequest[] On(ClientConnection connection)
        => [.. _pending.Values.Where(r => ReferenceEquals(r.Connection, connection)).OrderBy(r => r.Id)];

    /// <summary>Empties the table and returns what was on it.</summary>
    public PendingRequest[] Clear()
    {
        var all = _pending.Values.ToArray();
        _pending.Clear();
        _waiting.Clear();
        AttemptTimeouts.Clear();
        Deadlines.Clear();
        foreach (var request in all)
        {
            Detach(request);
        }

        return all;
    }
}
