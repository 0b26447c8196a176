"""Every error text the RESP side sends, in one place.

A command raises `CommandError(text)` where text starts with Redis's prefix (`ERR`,
`WRONGTYPE`, ...); the connection renders it as `-<text>\r\n`. Texts are Redis 7.0's.
"""

from __future__ import annotations


class CommandError(Exception):
    """An error reply. `text` is the full message including its prefix. `counted`: the error
    statistics already count it (a script's error that a command inside it raised), so the
    reply does not count it again (Redis's ERR_REPLY_FLAG_NO_STATS_UPDATE)."""

    __slots__ = ("counted", "text")

    def __init__(self, text: str, counted: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.counted = counted

    @property
    def prefix(self) -> str:
        return self.text.split(" ", 1)[0]


class ProtocolError(Exception):
    """A malformed request frame: reply with the text and close the connection."""


WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
MISCONF = (
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to "
    "disk. Commands that may modify the data set are disabled, because this instance is "
    "configured to report errors during writes if RDB snapshotting fails "
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB "
    "error."
)
LOADING = "LOADING Redis is loading the dataset in memory"
BUSYKEY = "BUSYKEY Target key name already exists."
BAD_DUMP_PAYLOAD = "ERR DUMP payload version or checksum are wrong"
BAD_DATA_FORMAT = "ERR Bad data format"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
OVERFLOW = "ERR increment or decrement would overflow"
NO_SUCH_KEY = "ERR no such key"
INDEX_OUT_OF_RANGE = "ERR index out of range"
DB_INDEX_OUT_OF_RANGE = "ERR DB index is out of range"
INVALID_DB_INDEX = "ERR invalid DB index"
INVALID_EXPIRE = "ERR invalid expire time in '{}' command"
SAME_OBJECT = "ERR source and destination objects are the same"
INT_RANGE = "ERR value is out of range, value must between -2147483648 and 2147483647"
EXPIRE_NX_CONFLICT = "ERR NX and XX, GT or LT options at the same time are not compatible"
EXPIRE_GT_LT_CONFLICT = "ERR GT and LT options at the same time are not compatible"
UNSUPPORTED_OPTION = "ERR Unsupported option {}"
INVALID_FIRST_DB = "ERR invalid first DB index"
INVALID_SECOND_DB = "ERR invalid second DB index"
LFU_NOT_SELECTED = (
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some time to "
    "adjust."
)
LFU_SELECTED = (
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust."
)
NEGATIVE_COUNT = "ERR value is out of range, must be positive"
STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
BIT_OFFSET = "ERR bit offset is not an integer or out of range"
BIT_VALUE = "ERR bit is not an integer or out of range"
NAN_OR_INF = "ERR increment would produce NaN or Infinity"
NOT_ALLOWED_IN_SUBSCRIBE = (
    "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
    "allowed in this context"
)
NOT_ALLOWED_IN_MULTI = "ERR Command not allowed inside a transaction"
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
NOPROTO = "NOPROTO unsupported protocol version"


def unknown_command(name: bytes, args: list[bytes]) -> str:
    shown = "".join(f"'{_show(a)}' " for a in args)
    return f"ERR unknown command '{_show(name)}', with args beginning with: {shown}"


def unknown_subcommand(sub: bytes, container: str) -> str:
    return f"ERR unknown subcommand '{_show(sub)}'. Try {container.upper()} HELP."


def wrong_arity(fullname: str) -> str:
    return f"ERR wrong number of arguments for '{fullname}' command"


INVALID_CURSOR = "ERR invalid cursor"
VALUE_OUT_OF_RANGE = "ERR value is out of range"
LONG_RANGE = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
HASH_NOT_INTEGER = "ERR hash value is not an integer"
HASH_NOT_FLOAT = "ERR hash value is not a float"
VALUE_NAN_OR_INF = "ERR value is NaN or Infinity"
NUMKEYS_POSITIVE = "ERR numkeys should be greater than 0"
NUMKEYS_TOO_MANY = "ERR Number of keys can't be greater than number of args"
LIMIT_NEGATIVE = "ERR LIMIT can't be negative"
def _show(b: bytes, limit: int = 128) -> str:
    """Render client bytes inside an error the way Redis does: the bytes themselves (kept through
    surrogateescape, which the reply encoders reverse), truncated, newlines made spaces."""
    s = b[:limit].decode("utf-8", "surrogateescape")
    return s.replace("\r", " ").replace("\n", " ")


def expected_bulk(got: int) -> str:
    """A multibulk element that does not start with '$' (got is the byte found instead)."""
    return f"Protocol error: expected '$', got '{_show(bytes([got]))}'"


# Sorted sets (t_zset.c) and geo (geo.c).
ZSET_NOT_FLOAT_RANGE = "ERR min or max is not a float"
ZSET_LEX_RANGE = "ERR min or max not valid string range item"
ZSET_XX_NX = "ERR XX and NX options at the same time are not compatible"
ZSET_GT_LT_NX = "ERR GT, LT, and/or NX options at the same time are not compatible"
ZSET_INCR_PAIR = "ERR INCR option supports a single increment-element pair"
ZSET_NAN = "ERR resulting score is not a number (NaN)"
ZSET_LIMIT_RANK = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
ZSET_WITHSCORES_LEX = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
ZSET_WEIGHT = "ERR weight value is not a float"
ZSET_NUMKEYS = "ERR numkeys should be greater than 0"
ZSET_COUNT = "ERR count should be greater than 0"
ZSET_LIMIT_NEGATIVE = "ERR LIMIT can't be negative"
ZSET_OUT_OF_RANGE = "ERR value is out of range"
ZSET_NOT_POSITIVE = "ERR value is out of range, must be positive"
ZSET_NEEDS_KEY = "ERR at least 1 input key is needed for '{}' command"
ZSET_LONG_RANGE = "ERR value is out of range, value must between {} and {}"
GEO_INVALID_PAIR = "ERR invalid longitude,latitude pair {:f},{:f}"
GEO_UNIT = "ERR unsupported unit provided. please use M, KM, FT, MI"
GEO_NO_MEMBER = "ERR could not decode requested zset member"
GEO_RADIUS = "ERR need numeric radius"
GEO_RADIUS_NEGATIVE = "ERR radius cannot be negative"
GEO_WIDTH = "ERR need numeric width"
GEO_HEIGHT = "ERR need numeric height"
GEO_BOX_NEGATIVE = "ERR height or width cannot be negative"
GEO_COUNT = "ERR COUNT must be > 0"
GEO_STORE_OPTIONS = "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
GEO_FROM = "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}"
GEO_BY = "ERR exactly one of BYRADIUS and BYBOX can be specified for {}"
GEO_ANY = "ERR the ANY argument requires COUNT argument"

# Lists (t_list.c) and blocking operations (blocked.c, timeout.c).
RANK_ZERO = (
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use "
    "negative to start from the end of the list"
)
LPOS_COUNT_NEGATIVE = "ERR COUNT can't be negative"
LPOS_MAXLEN_NEGATIVE = "ERR MAXLEN can't be negative"
MPOP_NUMKEYS = "ERR numkeys should be greater than 0"
MPOP_COUNT = "ERR count should be greater than 0"
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
TIMEOUT_NEGATIVE = "ERR timeout is negative"
UNBLOCKED_BY_CLIENT = "UNBLOCKED client unblocked via CLIENT UNBLOCK"


# Pub/Sub (pubsub.c).
def deny_blocking(command: str) -> str:
    """A subscription asked by a client that expects one reply per command (EXEC, scripts)."""
    return f"ERR {command} isn't allowed for a DENY BLOCKING client"


def subcommand_syntax(sub: bytes | str, container: str) -> str:
    """Redis's addReplySubcommandSyntaxError."""
    shown = _show(sub) if isinstance(sub, bytes) else sub
    return (f"ERR unknown subcommand or wrong number of arguments for '{shown}'. "
            f"Try {container.upper()} HELP.")


# Client-side caching (CLIENT TRACKING / CACHING, networking.c and tracking.c).
TRACKING_ONE_REDIRECT = "ERR A client can only redirect to a single other client"
TRACKING_NO_REDIRECT_CLIENT = "ERR The client ID you want redirect to does not exist"
TRACKING_PREFIX_NEEDS_BCAST = "ERR PREFIX option requires BCAST mode to be enabled"
TRACKING_SWITCH_BCAST = ("ERR You can't switch BCAST mode on/off before disabling tracking for this "
                         "client, and then re-enabling it with a different mode.")
TRACKING_BCAST_OPTIN_OPTOUT = "ERR OPTIN and OPTOUT are not compatible with BCAST"
TRACKING_OPTIN_AND_OPTOUT = "ERR You can't specify both OPTIN mode and OPTOUT mode"
TRACKING_SWITCH_OPTIN_OPTOUT = ("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for "
                                "this client, and then re-enabling it with a different mode.")
CACHING_NOT_TRACKING = ("ERR CLIENT CACHING can be called only when the client is in tracking mode "
                        "with OPTIN or OPTOUT mode enabled")
CACHING_YES_NEEDS_OPTIN = "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
CACHING_NO_NEEDS_OPTOUT = "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."


def prefix_overlaps_existing(prefix: bytes, existing: bytes) -> str:
    return (f"ERR Prefix '{_show(prefix)}' overlaps with an existing prefix '{_show(existing)}'. "
            "Prefixes for a single client must not overlap.")


def prefix_overlaps_provided(prefix: bytes, other: bytes) -> str:
    return (f"ERR Prefix '{_show(prefix)}' overlaps with another provided prefix '{_show(other)}'. "
            "Prefixes for a single client must not overlap.")


def internal_error(name: str) -> str:
    """A handler of ours raised: the command fails, the server keeps serving."""
    return f"ERR internal error while running '{name}'"

# Streams (t_stream.c).
STREAM_INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
STREAM_ID_ZERO = "ERR The ID specified in XADD must be greater than 0-0"
STREAM_ID_SMALL = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
STREAM_EXHAUSTED = "ERR The stream has exhausted the last possible ID, unable to add more items"
STREAM_TOO_LARGE = "ERR Elements are too large to be stored"
STREAM_MAXLEN_MINID = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
STREAM_MAXLEN_NEGATIVE = "ERR The MAXLEN argument must be >= 0."
STREAM_LIMIT_NEGATIVE = "ERR The LIMIT argument must be >= 0."
STREAM_LIMIT_NO_STRATEGY = "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
STREAM_TRIM_NO_STRATEGY = "ERR syntax error, XTRIM must be called with a trimming strategy"
STREAM_LIMIT_NO_APPROX = "ERR syntax error, LIMIT cannot be used without the special ~ option"
STREAM_START_INTERVAL = "ERR invalid start ID for the interval"
STREAM_END_INTERVAL = "ERR invalid end ID for the interval"
STREAM_ENTRIES_ADDED_NEGATIVE = "ERR entries_added must be positive"
STREAM_SETID_MAXDELETED = "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
STREAM_SETID_SMALL = "ERR The ID specified in XSETID is smaller than the target stream top item"
STREAM_SETID_ENTRIES_ADDED = (
    "ERR The entries_added specified in XSETID is smaller than the target stream length")
STREAM_UNBALANCED = (
    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")
STREAM_GROUP_XREAD = "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."
STREAM_NOACK_XREAD = "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."
STREAM_MISSING_GROUP = "ERR Missing GROUP option for XREADGROUP"
STREAM_DOLLAR_GROUP = (
    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of "
    "this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would "
    "just return an empty result set.")
STREAM_GT_XREAD = (
    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> "
    "<consumer> option.")
STREAM_BLOCK_SCRIPT = "ERR {} command is not allowed with BLOCK option from scripts"
STREAM_TIMEOUT_NOT_INTEGER = "ERR timeout is not an integer or out of range"
STREAM_NOGROUP_READ = "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option"
STREAM_NOGROUP = "NOGROUP No such key '{}' or consumer group '{}'"
STREAM_NOGROUP_KEY = "NOGROUP No such consumer group '{}' for key name '{}'"
STREAM_GROUP_GONE = "NOGROUP the consumer group this client was blocked on no longer exists"
STREAM_KEY_GONE = "UNBLOCKED the stream key no longer exists"
STREAM_BUSYGROUP = "BUSYGROUP Consumer Group name already exists"
STREAM_XGROUP_NO_KEY = (
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to "
    "use the MKSTREAM option to create an empty stream automatically.")
STREAM_ENTRIES_READ = "ERR value for ENTRIESREAD must be positive or -1"
STREAM_XCLAIM_MIN_IDLE = "ERR Invalid min-idle-time argument for XCLAIM"
STREAM_XCLAIM_OPTION = "ERR Invalid {} option argument for XCLAIM"
STREAM_XCLAIM_UNRECOGNIZED = "ERR Unrecognized XCLAIM option '{}'"
STREAM_XAUTOCLAIM_MIN_IDLE = "ERR Invalid min-idle-time argument for XAUTOCLAIM"
STREAM_XAUTOCLAIM_COUNT = "ERR COUNT must be > 0"
STREAM_XAUTOCLAIM_MEMORY = "ERR Insufficient memory, failed allocating transient memory, COUNT too high."


def c_string(b: bytes) -> str:
    """Client bytes as a C `%s` shows them: up to the first NUL (keys and names in errors)."""
    return _show(b.split(b"\0", 1)[0], 1 << 20)


# -- Lua scripting and functions (scripting/, commands/scripting.py, functions.py)
LUA_REACHED_LUA_STACK_LIMIT = "ERR reached lua stack limit"
LUA_NO_FUNCTIONS_REGISTERED = "ERR No functions registered"
LUA_LIBRARY_NOT_FOUND = "ERR Library not found"
LUA_REDIS_REGISTER_FUNCTION_CAN_ONLY = (
    "ERR redis.register_function can only be called on FUNCTION LOAD command"
)
LUA_FUNCTION_NAME_ARGUMENT_GIVEN_TO = (
    "ERR function_name argument given to redis.register_function must be a string"
)
LUA_CALLBACK_ARGUMENT_GIVEN_TO_REDIS = (
    "ERR callback argument given to redis.register_function must be a function"
)
LUA_DESCRIPTION_ARGUMENT_GIVEN_TO_REDIS = (
    "ERR description argument given to redis.register_function must be a string"
)
LUA_UNKNOWN_ARGUMENT_GIVEN_TO_REDIS = "ERR unknown argument given to redis.register_function"
LUA_REGISTER_NO_NAME = "ERR redis.register_function must get a function name argument"
LUA_REGISTER_NO_CALLBACK = "ERR redis.register_function must get a callback argument"
LUA_SECOND_ARGUMENT_TO_REDIS_REGISTER = "ERR second argument to redis.register_function must be a function"
LUA_FIRST_ARGUMENT_TO_REDIS_REGISTER = "ERR first argument to redis.register_function must be a string"
LUA_WRONG_NUMBER_OF_ARGUMENTS_TO = "ERR wrong number of arguments to redis.register_function"
LUA_FUNCTION_ALREADY_EXISTS_IN_THE = "ERR Function already exists in the library"
LUA_CAN_NOT_EXECUTE_A_SCRIPT = "ERR Can not execute a script with write flag using *_ro command."
LUA_REDIS_CALL_IS_NOT_ALLOWED = "ERR redis.call is not allowed from this context"
LUA_PLEASE_SPECIFY_AT_LEAST_ONE = "ERR Please specify at least one argument for this redis lib call"
LUA_CALL_ARG_TYPE = "ERR Lua redis lib command arguments must be strings or integers"
LUA_UNKNOWN_REDIS_COMMAND_CALLED_FROM = "ERR Unknown Redis command called from script"
LUA_WRONG_NUMBER_OF_ARGS_CALLING = "ERR Wrong number of args calling Redis command from script"
LUA_THIS_REDIS_COMMAND_IS_NOT = "ERR This Redis command is not allowed from script"
LUA_WRITE_COMMANDS_ARE_NOT_ALLOWED = "ERR Write commands are not allowed from read-only scripts."
LUA_INVALID_COMMAND_PASSED_TO_REDIS = "ERR Invalid command passed to redis.acl_check_cmd()"
LUA_UNKNOWN_FLAG_GIVEN = "ERR unknown flag given"
LUA_MISSING_LIBRARY_METADATA = "ERR Missing library metadata"
LUA_INVALID_METADATA_VALUE_NAME_ARGUMENT = (
    "ERR Invalid metadata value, name argument was given multiple times"
)
LUA_LIBRARY_NAME_WAS_NOT_GIVEN = "ERR Library name was not given"
LUA_NEGATIVE_NUMKEYS = "ERR Number of keys can't be negative"
LUA_NUMKEYS_TOO_BIG = "ERR Number of keys can't be greater than number of args"
LUA_REDIS_LOG_REQUIRES_TWO_ARGUMENTS = "ERR redis.log() requires two arguments or more."
LUA_FIRST_ARGUMENT_MUST_BE_A = "ERR First argument must be a number (log level)."
LUA_INVALID_DEBUG_LEVEL = "ERR Invalid debug level."
LUA_REDIS_SETRESP_REQUIRES_ONE_ARGUMENT = "ERR redis.setresp() requires one argument."
LUA_RESP_VERSION_MUST_BE_2 = "ERR RESP version must be 2 or 3."
LUA_REDIS_SET_REPL_REQUIRES_ONE = "ERR redis.set_repl() requires one argument."
LUA_INVALID_REPLICATION_FLAGS_USE_REPL = (
    "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."
)
LUA_WRONG_NUMBER_OF_ARGUMENTS = "ERR wrong number of arguments"
LUA_SCRIPT_FLUSH_ONLY_SUPPORT_SYNC = "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
LUA_FUNCTION_NOT_FOUND = "ERR Function not found"
LUA_FUNCTION_FLUSH_ONLY_SUPPORTS_SYNC = "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"
LUA_LIBRARY_NAME_ARGUMENT_WAS_NOT = "ERR library name argument was not given"
LUA_FUNCTION_RESTORE_ARITY = (
    "ERR unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP."
)
LUA_WRONG_RESTORE_POLICY_GIVEN_VALUE = (
    "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
)


# -- the bridge: a topic partition's stream key (bridge/topic_stream.py) ---------------------------
def bridge_refused(command: str, key: bytes, topic: str, partition: int) -> str:
    return (f"ERR {command} refused: '{key.decode('utf-8', 'replace')}' is partition {partition} of Kafka "
            f"topic '{topic}', an append-only log (XADD appends; retention and DeleteRecords remove "
            f"records)")


def bridge_xadd_id(where: str) -> str:
    return f"ERR XADD to {where}: the ID is the offset the log assigns, use *"


def bridge_xadd_internal(where: str) -> str:
    return f"ERR XADD to {where}: internal topics are written by their coordinators only"


def bridge_xadd_field(where: str, field: bytes, why: str) -> str:
    return (f"ERR XADD to {where}: field '{field.decode('utf-8', 'replace')}' {why} (a record's fields are "
            f"key, value, timestamp and header:<name>)")


def bridge_append_failed(where: str, reason: str) -> str:
    return f"ERR XADD to {where} failed: {reason}"


def bridge_xadd_option(where: str, option: str) -> str:
    return f"ERR XADD to {where}: {option} would remove records (the log keeps them until retention)"


def bridge_unreadable(where: str, reason: str) -> str:
    return f"ERR the Kafka log in {where} cannot be read as a stream: {reason}"


# -- the bridge: table views and change capture (bridge/views.py, bridge/capture.py) --------------
def _name(b: bytes) -> str:
    return b.decode("utf-8", "replace")


VIEW_EMPTY_NAME = "ERR a view needs a non-empty key or prefix"
VIEW_JSON_UTF8 = "ERR a write-through HASHES view holds JSON: fields and values must be UTF-8"
VIEW_USAGE = "ERR syntax error, expected VIEW.CREATE <key-or-prefix> FROM <topic> AS HASH|STRINGS|HASHES [WRITETHROUGH]"
CAPTURE_USAGE = ("ERR syntax error, expected CAPTURE.CREATE <topic> [MATCH <pattern>] [DB <n>] "
                 "[FORMAT VALUE|EFFECT]")
CAPTURE_MARK_INTERNAL = "ERR CAPTURE.MARK is written to the AOF by change capture and only read back from it"


def view_exists(name: bytes) -> str:
    return f"ERR view '{_name(name)}' already exists"


def view_no_such(name: bytes) -> str:
    return f"ERR no such view '{_name(name)}'"


def view_no_topic(topic: str) -> str:
    return f"ERR no such topic '{topic}' (create it first, e.g. with kafka-topics or a producer)"


def view_on_capture_topic(topic: str) -> str:
    return f"ERR topic '{topic}' is written by a change capture: a view of it could capture its own writes"


def view_overlaps(name: bytes, other: bytes) -> str:
    return f"ERR view '{_name(name)}' overlaps view '{_name(other)}': a key would belong to both"


def view_keys_exist(name: bytes) -> str:
    return f"ERR keys of view '{_name(name)}' already exist: delete them or choose another key or prefix"


def view_read_only(key: bytes, name: bytes, topic: str) -> str:
    return (f"ERR key '{_name(key)}' belongs to view '{_name(name)}' of topic '{topic}' and is read-only "
            f"(produce to the topic, or create the view WRITETHROUGH)")


def view_writethrough_mixed(name: bytes) -> str:
    return f"ERR a write to write-through view '{_name(name)}' may touch keys of that view only"


def view_writethrough_unsupported(command: str, name: bytes, kind: str) -> str:
    allowed = "SET (without options), DEL and UNLINK" if kind == "strings" else "HSET, HMSET, HDEL, DEL and UNLINK"
    return (f"ERR '{command}' cannot write through to view '{_name(name)}' ({kind.upper()}): it takes "
            f"{allowed}")


def view_blocks_flush(command: str, name: bytes) -> str:
    return f"ERR {command} would delete keys of view '{_name(name)}': drop the view first"


def view_produce_failed(topic: str, why: str) -> str:
    return f"ERR write-through to topic '{topic}' failed: {why}"


def bridge_save_failed(why: str) -> str:
    return f"ERR cannot save the bridge definitions: {why}"


def capture_exists(topic: str) -> str:
    return f"ERR a capture into topic '{topic}' already exists"


def capture_no_such(topic: str) -> str:
    return f"ERR no capture into topic '{topic}'"


def capture_on_view_topic(topic: str) -> str:
    return f"ERR topic '{topic}' is the source of a view: capturing into it could capture its own writes"


def capture_bad_topic(topic: str, why: str) -> str:
    return f"ERR cannot capture into topic '{topic}': {why}"
# maxmemory (keyspace/evict.py): a denyoom command while over the limit under noeviction
OOM = "OOM command not allowed when used memory > 'maxmemory'."
EXECABORT_BECAUSE = "EXECABORT Transaction discarded because of: {}"
# Lua scripting and functions: the texts with a part filled in ({} placeholders), and the rest
LUA_SHEBANG_INVALID = "ERR Invalid engine in script shebang"
LUA_INVALID_LIBRARY_METADATA = "ERR Invalid library metadata"
LUA_SHEBANG_ENGINE = "ERR Unexpected engine in script shebang: {}"
LUA_SHEBANG_OPTION = "ERR Unknown lua shebang option: {}"
LUA_SHEBANG_FLAG = "ERR Unexpected flag in script shebang: {}"
LUA_COMPILE_SCRIPT = "ERR Error compiling script (new function): {}"
LUA_LIBRARY_EXISTS_QUOTED = "ERR Library '{}' already exists"
LUA_LIBRARY_EXISTS = "ERR Library {} already exists"
LUA_FUNCTION_EXISTS = "ERR Function {} already exists"
LUA_COMPILE_FUNCTION = "ERR Error compiling function: {}"
LUA_REGISTERING_FUNCTIONS = "ERR Error registering functions: {}"
LUA_UNKNOWN_ERROR = "ERR unknown error"
LUA_REGISTER_SINGLE_ARGUMENT = ("ERR calling redis.register_function with a single argument is only applicable "
                                "to Lua table (representing named arguments).")
LUA_REGISTER_FLAGS_NOT_TABLE = ("ERR flags argument to redis.register_function must be a table "
                                "representing function flags")
LUA_SCRIPT_KILLED = "ERR Script killed by user with {}..."
LUA_FUNCTION_LOAD_TIMEOUT = "ERR FUNCTION LOAD timeout"
LUA_BAD_LIBRARY_NAME = ("ERR Library names can only contain letters, numbers, or underscores(_) and must be at "
                        "least one character long")
LUA_INVALID_METADATA_VALUE = "ERR Invalid metadata value given: {}"
LUA_ENGINE_NOT_FOUND = "ERR Engine '{}' not found"
LUA_BUSY = "BUSY Redis is busy running a script. You can only call {} or SHUTDOWN NOSAVE."
LUA_WRONG_NUMBER_OR_TYPE = "ERR wrong number or type of arguments"
LUA_NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."
LUA_NOTBUSY = "NOTBUSY No scripts in execution right now."
LUA_UNKILLABLE = ("UNKILLABLE Sorry the script already executed write commands against the dataset. "
                  "You can either wait the script termination or kill the server in a hard way using "
                  "the SHUTDOWN NOSAVE command.")
LUA_FCALL_BAD_NUMKEYS = "ERR Bad number of keys provided"
LUA_FUNCTION_LOAD_UNKNOWN_OPTION = "ERR Unknown option given: {}"
LUA_FUNCTION_UNKNOWN_ARGUMENT = "ERR Unknown argument {}"
LUA_DUMP_NOT_A_FUNCTION = "ERR given type is not a function"
LUA_DUMP_INVALID = "ERR payload is not a valid function dump"
# Raised inside Lua by the sandbox (the global's name, quoted, follows LUA_NONEXISTENT_GLOBAL)
LUA_READONLY_TABLE = "Attempt to modify a readonly table"
LUA_NONEXISTENT_GLOBAL = "Script attempted to access nonexistent global variable "
# MIGRATE (cluster.c)
MIGRATE_CONNECT = "IOERR error or timeout connecting to the client"
MIGRATE_IO_WRITING = "IOERR error or timeout writing to target instance"
MIGRATE_IO_READING = "IOERR error or timeout reading to target instance"
MIGRATE_TARGET_ERROR = "ERR Target instance replied with error: "
MIGRATE_KEYS_KEY_NOT_EMPTY = ("ERR When using MIGRATE KEYS option, the key argument must be set to the "
                              "empty string")
