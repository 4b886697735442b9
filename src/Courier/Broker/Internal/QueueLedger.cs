using Courier.Internal;

namespace Courier.Broker.Internal;

/// <summary>
/// What waits across all of the broker's queues: totals in requests and bytes (the broker-wide caps), and the clients
/// with requests waiting, each with its lanes (a client's departure is found without scanning every queue). Lanes and
/// clients are pooled: under load every request may open and close one. Loop thread only.
/// </summary>
internal sealed class QueueLedger
{
    private const int Spares = 1024;
    private readonly Dictionary<byte[], BrokerClient> _clients = new(ByteArrayComparer.Instance);
    private readonly Stack<ClientLane> _spareLanes = new();
    private readonly Stack<BrokerClient> _spareClients = new();

    /// <summary>Requests waiting in every queue.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes of the requests waiting in every queue (<see cref="BrokerRequest.Bytes"/>).</summary>
    public long Bytes { get; private set; }

    /// <summary>Clients with requests waiting.</summary>
    public int Clients => _clients.Count;

    public void Added(BrokerRequest request)
    {
        Count++;
        Bytes += request.Bytes;
    }

    public void Removed(BrokerRequest request)
    {
        Count--;
        Bytes -= request.Bytes;
    }

    /// <summary>The client with routing id <paramref name="id"/> if it has requests waiting, else null.</summary>
    public BrokerClient? Find(ReadOnlySpan<byte> id)
        => _clients.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(id, out var client) ? client : null;

    /// <summary>A new lane of <paramref name="queue"/> for client <paramref name="id"/>.</summary>
    public ClientLane OpenLane(byte[] id, RequestQueue queue)
    {
        if (!_clients.TryGetValue(id, out var client))
        {
            client = (_spareClients.TryPop(out var spare) ? spare : new BrokerClient()).Set(id);
            _clients.Add(id, client);
        }

        var lane = (_spareLanes.TryPop(out var spareLane) ? spareLane : new ClientLane()).Set(client, queue);
        client.Lanes.Add(lane);
        return lane;
    }

    /// <summary>An empty lane, out of its queue: forgotten, and its client too when it was the last.</summary>
    public void CloseLane(ClientLane lane)
    {
        var client = lane.Client;
        client.Lanes.Remove(lane);
        lane.Clear();
        if (_spareLanes.Count < Spares)
        {
            _spareLanes.Push(lane);
        }

        if (client.Lanes.Count == 0)
        {
            _clients.Remove(client.Id);
            client.Clear();
            if (_spareClients.Count < Spares)
            {
                _spareClients.Push(client);
            }
        }
    }
}
