using Microsoft.Extensions.Logging;

namespace Courier.Security.Internal;

/// <summary>
/// A policy file and the policy read from it, re-read when the file's time or size changes, or the file it links to (checked at most every
/// <see cref="AllowList.CheckInterval"/>). A change that does not parse, a file that cannot be read and a file deleted
/// keep the policy in force and are logged, once each: a typo must not open anything, nor lock everyone out; the file
/// is read again at each check until it is read whole. Loop thread only.
/// </summary>
internal sealed class PolicyFile
{
    private readonly string _path;
    private readonly ILogger _logger;
    private readonly string _listener;
    private string _stamp;
    private string? _failed;
    private ServicePolicy _current;
    private long _nextCheck;

    /// <summary>The largest policy read: one is a few KB (a line for each key and its services); this one parses on the loop thread.</summary>
    internal const int MaxPolicyBytes = 1024 * 1024;

    private static readonly string Refusal = $"a policy file (one is a few KB, at most {MaxPolicyBytes} bytes)";

    /// <summary>Reads the policy; a missing or bad file throws, naming the file.</summary>
    public PolicyFile(string path, ILogger logger, string listener)
    {
        _path = path;
        _logger = logger;
        _listener = listener;
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The policy file '{path}' does not exist.", path);
        }

        _stamp = FileStamp.Of(new FileInfo(path));
        _current = ServicePolicy.Parse(BoundedFile.ReadText(path, MaxPolicyBytes, Refusal), path);
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
        var stamp = FileStamp.Of(new FileInfo(_path));
        if (stamp == _stamp)
        {
            return;
        }

        try
        {
            _current = ServicePolicy.Parse(BoundedFile.ReadText(_path, MaxPolicyBytes, Refusal), _path);
            _stamp = stamp;
            _failed = null;
            SecurityLog.PolicyReloaded(_logger, _listener, _path);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            // Not taken as read: a file that could not be read is tried again at the next check (a chmod changes no
            // stamp). Said once for each state of the file, not at every check.
            var failure = stamp + "\n" + ex.Message;
            if (failure != _failed)
            {
                _failed = failure;
                SecurityLog.PolicyNotReloaded(_logger, _listener, ex.Message);
            }
        }
    }
}
