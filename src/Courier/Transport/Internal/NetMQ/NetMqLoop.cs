using NetMQ;

namespace Courier.Transport.Internal.NetMQ;

/// <summary>A NetMQ poller on a dedicated thread, with a queue for work posted from other threads.</summary>
internal sealed class NetMqLoop : ITransportLoop
{
    private readonly string _name;
    private readonly NetMQPoller _poller = new();
    private readonly NetMQQueue<Action> _work = new();
    private readonly Dictionary<ITransportSocket, EventHandler<NetMQSocketEventArgs>> _handlers = [];
    private Thread? _thread;
    private int _threadId = -1;
    private int _disposed;

    public NetMqLoop(string name)
    {
        _name = name;
        _work.ReceiveReady += (_, e) =>
        {
            // Bounded batch: a flood of posted work must not starve the sockets.
            for (var i = 0; i < 256 && e.Queue.TryDequeue(out var work, TimeSpan.Zero); i++)
            {
                work();
            }
        };
        _poller.Add(_work);
    }

    public bool IsLoopThread => Environment.CurrentManagedThreadId == _threadId;

    public void Add(ITransportSocket socket, Action onReadable)
    {
        var netMq = ((NetMqSocket)socket).Socket;
        EventHandler<NetMQSocketEventArgs> handler = (_, _) => onReadable();
        netMq.ReceiveReady += handler;
        _handlers[socket] = handler;
        _poller.Add(netMq);
    }

    public void RemoveAndDispose(ITransportSocket socket)
    {
        var netMq = ((NetMqSocket)socket).Socket;
        if (_handlers.Remove(socket, out var handler))
        {
            netMq.ReceiveReady -= handler;
            _poller.Remove(netMq);
        }

        socket.Dispose();
    }

    public void Post(Action work)
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            _work.Enqueue(work);
        }
    }

    public void Start(TimeSpan tickInterval, Action onTick)
    {
        var timer = new NetMQTimer(tickInterval);
        timer.Elapsed += (_, _) => onTick();
        _poller.Add(timer);
        _thread = new Thread(() =>
        {
            _threadId = Environment.CurrentManagedThreadId;
            _poller.Run();
        })
        {
            IsBackground = true,
            Name = _name,
        };
        _thread.Start();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_poller.IsRunning)
        {
            _poller.Stop();
        }

        if (_thread is not null && Environment.CurrentManagedThreadId != _threadId)
        {
            _thread.Join(TimeSpan.FromSeconds(5));
        }

        foreach (var socket in _handlers.Keys)
        {
            socket.Dispose();
        }

        _handlers.Clear();
        _poller.Dispose();
        _work.Dispose();
    }
}
