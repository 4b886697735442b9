using Courier.Internal;

namespace Courier.Broker.Internal;

/// <summary>
/// A service's waiting requests: one lane per client (<see cref="ClientLane"/>), oldest first within each, and the
/// lanes served in turn, so that one client's flood delays only itself. Queueing allocates nothing once warm, and a
/// request is unlinked in O(1) wherever it stands (its client went away). Loop thread only.
/// </summary>
internal sealed class RequestQueue(QueueLedger ledger)
{
    private readonly Dictionary<byte[], ClientLane> _lanes = new(ByteArrayComparer.Instance);
    private ClientLane? _head;
    private ClientLane? _tail;

    // The lane holding the most requests, or close to it (it is not looked for again as lanes shrink in turn): the one
    // that gives up a place when the queue is full. Null when it has to be looked for.
    private ClientLane? _heaviest;

    /// <summary>Lanes visited looking for the heaviest, since the start (what the search costs, for tests).</summary>
    internal long LaneVisits { get; private set; }

    /// <summary>The request whose turn is next: the oldest of the client whose turn it is.</summary>
    public BrokerRequest? First => _head?.First;

    public int Count { get; private set; }

    /// <summary>How many of them came from Courier clients (which may be answered 404 when the service has no worker).</summary>
    public int CourierCount { get; private set; }

    /// <summary>Requests of client <paramref name="clientId"/> waiting here.</summary>
    public int CountOf(byte[] clientId) => _lanes.TryGetValue(clientId, out var lane) ? lane.Count : 0;

    /// <summary>
    /// The newest request of the client with the most waiting, when that client has at least two more than
    /// <paramref name="clientId"/>: the place a full queue gives to a client below its share. Else null.
    /// </summary>
    public BrokerRequest? Surplus(byte[] clientId)
    {
        if (_heaviest is null)
        {
            // Among equals the last in turn order: the lane served last, so the search is made again only after the
            // others have had their turns (the first would empty at the next dispatch, and every lane of one request
            // from 10,000 clients cost a walk of all 10,000 per dispatch).
            for (var lane = _head; lane is not null; lane = lane.Next)
            {
                LaneVisits++;
                if (_heaviest is null || lane.Count >= _heaviest.Count)
                {
                    _heaviest = lane;
                }
            }
        }

        return _heaviest is { } heaviest && heaviest.Count >= CountOf(clientId) + 2 ? heaviest.Last : null;
    }

    /// <summary>At the end of its client's lane; a client new to the queue takes its turn after those already waiting.</summary>
    public void AddLast(BrokerRequest request)
    {
        var lane = Link(request, out var opened);
        lane.AddLast(request);
        Weigh(lane);
        if (opened)
        {
            LinkLane(lane, atHead: false);
        }
    }

    /// <summary>
    /// Ahead of everything: a request taken back from a dead worker goes before those that came after it, and its
    /// client's turn comes first.
    /// </summary>
    public void AddFirst(BrokerRequest request)
    {
        var lane = Link(request, out var opened);
        lane.AddFirst(request);
        Weigh(lane);
        if (!opened)
        {
            UnlinkLane(lane);
        }

        LinkLane(lane, atHead: true);
    }

    /// <summary>Takes <see cref="First"/> off the queue; its client's next request waits for the others' turns.</summary>
    public BrokerRequest? TakeFirst()
    {
        if (_head is not { First: { } request } lane)
        {
            return null;
        }

        Remove(request);
        if (lane.Queue is not null && _tail != lane)
        {
            // Its lane still holds requests: it goes to the back of the turn order.
            UnlinkLane(lane);
            LinkLane(lane, atHead: false);
        }

        return request;
    }

    public void Remove(BrokerRequest request)
    {
        if (request.Lane is not { } lane || !ReferenceEquals(lane.Queue, this))
        {
            return;
        }

        lane.Remove(request);
        request.Lane = null;
        Count--;
        if (IsCourier(request))
        {
            CourierCount--;
        }

        ledger.Removed(request);
        if (lane.Count == 0)
        {
            if (_heaviest == lane)
            {
                _heaviest = null;
            }

            UnlinkLane(lane);
            _lanes.Remove(lane.Client.Id);
            ledger.CloseLane(lane);
        }
    }

    /// <summary>Adds every waiting request that <paramref name="match"/> accepts to <paramref name="into"/>, in no particular order.</summary>
    public void Collect(Func<BrokerRequest, bool> match, List<BrokerRequest> into)
    {
        for (var lane = _head; lane is not null; lane = lane.Next)
        {
            for (var request = lane.First; request is not null; request = request.QueueNext)
            {
                if (match(request))
                {
                    into.Add(request);
                }
            }
        }
    }

    private ClientLane Link(BrokerRequest request, out bool opened)
    {
        if (request.Lane is not null)
        {
            throw new InvalidOperationException("The request is already queued.");
        }

        var id = request.ClientId;
        opened = !_lanes.TryGetValue(id, out var lane);
        if (opened)
        {
            lane = ledger.OpenLane(id, this);
            _lanes.Add(id, lane);
        }

        request.Lane = lane;
        Count++;
        if (IsCourier(request))
        {
            CourierCount++;
        }

        ledger.Added(request);
        return lane!;
    }

    private void Weigh(ClientLane lane)
    {
        if (_heaviest is not null && lane.Count > _heaviest.Count)
        {
            _heaviest = lane;
        }
    }

    private void LinkLane(ClientLane lane, bool atHead)
    {
        if (atHead)
        {
            lane.Previous = null;
            lane.Next = _head;
            if (_head is null)
            {
                _tail = lane;
            }
            else
            {
                _head.Previous = lane;
            }

            _head = lane;
        }
        else
        {
            lane.Next = null;
            lane.Previous = _tail;
            if (_tail is null)
            {
                _head = lane;
            }
            else
            {
                _tail.Next = lane;
            }

            _tail = lane;
        }
    }

    private void UnlinkLane(ClientLane lane)
    {
        if (lane.Previous is { } previous)
        {
            previous.Next = lane.Next;
        }
        else
        {
            _head = lane.Next;
        }

        if (lane.Next is { } next)
        {
            next.Previous = lane.Previous;
        }
        else
        {
            _tail = lane.Previous;
        }

        lane.Previous = null;
        lane.Next = null;
    }

    private static bool IsCourier(BrokerRequest request)
        => request.Inbound?.Route.Framing is Protocol.Internal.ClientFraming.Courier or Protocol.Internal.ClientFraming.CourierBatch;
}
