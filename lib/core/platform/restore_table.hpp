// Internal: the process-wide table behind install_restore_on_exit() (restore_guard.cpp). Knobs
// add an entry (file, original text) at their first change and remove it once put back.
#pragma once

#include <string>

namespace dynn::restore_table {

// Slot of the new entry, or -1 when it cannot be kept (table full, path or text too long: logged
// once; the knob still works and normal code still restores it).
int add(const std::string& knob, const std::string& path, const std::string& text);
void remove(int slot);
// True once a signal or exit() started putting settings back: no knob may be written any more.
bool exiting();

}  // namespace dynn::restore_table
