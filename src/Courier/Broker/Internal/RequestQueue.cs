namespace Courier.Broker.Internal;

/// <summary>
/// A service's waiting requests, oldest first, linked through the requests themselves: queueing allocates nothing,
/// and a request is unlinked in O(1) wherever it stands (its client went away). Loop thread only.
/// </summary>
internal sealed class RequestQueue
{
    private BrokerRequest? _last;

    public BrokerRequest? First { get; private set; }

    public int Count { get; private set; }

    /// <summary>How many of them came from Courier clients (which may be answered 404 when the service has no worker).</summary>
    public int CourierCount { get; private set; }

    public void AddLast(BrokerRequest request)
    {
        Link(request);
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
    }

    /// <summary>Ahead of everything: a request taken back from a dead worker goes before those that came after it.</summary>
    public void AddFirst(BrokerRequest request)
    {
        Link(request);
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
    }

    public void Remove(BrokerRequest request)
    {
        if (!ReferenceEquals(request.Queue, this))
        {
            return;
        }

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

        request.Queue = null;
        request.QueuePrevious = null;
        request.QueueNext = null;
        Count--;
        if (IsCourier(request))
        {
            CourierCount--;
        }
    }

    private void Link(BrokerRequest request)
    {
        if (request.Queue is not null)
        {
            throw new InvalidOperationException("The request is already queued.");
        }

        request.Queue = this;
        Count++;
        if (IsCourier(request))
        {
            CourierCount++;
        }
    }

    private static bool IsCourier(BrokerRequest request)
        => request.Inbound?.Route.Framing is Protocol.Internal.ClientFraming.Courier or Protocol.Internal.ClientFraming.CourierBatch;
}
