using Microsoft.Extensions.Logging;

namespace Courier.Security.Internal;

/// <summary>
/// A policy file and the policy read from it, re-read when the file's time or size changes, or the file it links to (checked at most every
/// <see cref="AllowList.CheckInterval"/>). A change that does not parse keeps the policy in force and is logged: a
/// typo must not open anything, nor lock everyone out. Loop thread only.
/// </summary>
internal sealed class PolicyFile
{
    private readonly string _path;
    private readonly ILogger _logger;
    private readonly string _listener;
    private string _stamp;
    private ServicePolicy _current;
    private long _nextCheck;

    /// <summary>Reads the policy; a missing or bad file throws, naming the file.</summary>
    public PolicyFile(string path, ILogger logger, string listener)
    {
        _path = path;
        _logger = logger;
        _listener = listener;
        _stamp = Stamp();
        _current = ServicePolicy.Parse(File.ReadAllText(path), path);
        _nextCheck = Environment.TickCount64 + (long)AllowList.CheckInterval.TotalMilliseconds;
    }

    public ServicePolicy Current
    {
        get
        {
            if (Environment.TickCount64 >= _nextCheck)
            {
                Refresh();
            }

            return _current;
        }
    }

    private void Refresh()
    {
        _nextCheck = Environment.TickCount64 + (long)AllowList.CheckInterval.TotalMilliseconds;
        try
        {
            var stamp = Stamp();
            if (stamp == _stamp)
            {
                return;
            }

            _stamp = stamp;
            _current = ServicePolicy.Parse(File.ReadAllText(_path), _path);
            SecurityLog.PolicyReloaded(_logger, _listener, _path);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            SecurityLog.PolicyNotReloaded(_logger, _listener, ex.Message);
        }
    }

    private string Stamp()
    {
        var file = new FileInfo(_path);
        return file.Exists ? FileStamp.Of(file) : throw new FileNotFoundException($"The policy file '{_path}' does not exist.", _path);
    }
}
