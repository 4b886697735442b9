namespace Courier.Broker.Internal;

/// <summary>
/// One client's waiting requests for one service, oldest first, linked through the requests themselves. A service's
/// <see cref="RequestQueue"/> serves its lanes in turn, so that a client that floods a service waits behind itself, not
/// in front of everyone else. Loop thread only.
/// </summary>
internal sealed class ClientLane
{
    private BrokerRequest? _last;

    public BrokerClient Client { get; private set; } = null!;

    /// <summary>The queue it is a lane of; null once closed.</summary>
    public RequestQueue? Queue { get; private set; }

    public BrokerRequest? First { get; private set; }

    public BrokerRequest? Last => _last;

    public int Count { get; private set; }

    /// <summary>Its neighbours in its queue's turn order.</summary>
    internal ClientLane? Previous { get; set; }

    internal ClientLane? Next { get; set; }

    public ClientLane Set(BrokerClient client, RequestQueue queue)
    {
        Client = client;
        Queue = queue;
        return this;
    }

    public void Clear()
    {
        Client = null!;
        Queue = null;
        First = _last = null;
        Previous = Next = null;
        Count = 0;
    }

    public void AddLast(BrokerRequest request)
    {
        request.QueuePrevious = _last;
        if (_last is null)
        {
            First = request;
        }
        else
        {
            _last.QueueNext = request;
        }

        _last = request;
        Count++;
    }

    public void AddFirst(BrokerRequest request)
    {
        request.QueueNext = First;
        if (First is null)
        {
            _last = request;
        }
        else
        {
            First.QueuePrevious = request;
        }

        First = request;
        Count++;
    }

    public void Remove(BrokerRequest request)
    {
        if (request.QueuePrevious is { } previous)
        {
            previous.QueueNext = request.QueueNext;
        }
        else
        {
            First = request.QueueNext;
        }

        if (request.QueueNext is { } next)
        {
            next.QueuePrevious = request.QueuePrevious;
        }
        else
        {
            _last = request.QueuePrevious;
        }

        request.QueuePrevious = null;
        request.QueueNext = null;
        Count--;
    }
}

/// <summary>A client with requests waiting: its lanes, one per service, so that its departure costs only what it had queued.</summary>
internal sealed class BrokerClient
{
    public byte[] Id { get; private set; } = [];

    public HashSet<ClientLane> Lanes { get; } = new(ReferenceEqualityComparer.Instance);

    public BrokerClient Set(byte[] id)
    {
        Id = id;
        return this;
    }

    public void Clear()
    {
        Id = [];
        Lanes.Clear();
    }
}
